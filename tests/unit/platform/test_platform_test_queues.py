"""Which names on the broker a session's end deletes: its own, stale sessions', the pre-token pattern."""

from __future__ import annotations

import re
import time

from codex_platform.testing.queues import SESSION_TOKEN, STALE_AFTER, is_leftover, new_queue_prefix

NOW = time.time()
STALE_S = STALE_AFTER.total_seconds()


def session_token(started: float) -> str:
    return f"{int(started):08x}beef"


def test_prefixes_of_a_session_share_its_token() -> None:
    first, second = new_queue_prefix("amqp://x/"), new_queue_prefix("amqp://x/")
    assert first != second
    for prefix in (first, second):
        assert re.fullmatch(rf"test-{SESSION_TOKEN}-[0-9a-f]{{6}}\.", prefix)
        assert is_leftover(prefix + "catalog.dlq")


def test_other_sessions_names_are_left_until_stale() -> None:
    young = f"test-{session_token(NOW - 60)}-3f9a1c.catalog"
    stale = f"test-{session_token(NOW - STALE_S - 60)}-3f9a1c.codex.events"
    assert not is_leftover(young, now=NOW)
    assert is_leftover(stale, now=NOW)


def test_the_pattern_before_session_tokens_is_a_leftover() -> None:
    assert is_leftover("test-6cebc2a4.catalog")
    assert is_leftover("test-6cebc2a4.codex.events.delay.5000")


def test_names_that_are_not_tests_are_never_leftovers() -> None:
    for name in [
        "catalog",
        "catalog.dlq",
        "codex.events",
        "amq.topic",
        "test-catalog",
        "test-6cebc2a4catalog",
        "test-XYZ12345.catalog",
        "my-test-6cebc2a4.catalog",
    ]:
        assert not is_leftover(name, now=NOW), name
