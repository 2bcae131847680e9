"""The bus's rules that need no broker: verdict precedence, settings bounds, fingerprints, headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codex_bus import ConsumerSettings, Failure, InvalidDelay, MessageBatch, Topology
from codex_bus.dlq_cli import parse_when
from codex_bus.headers import attempts_of, copyable
from codex_bus.testing import make_batch, outcomes
from codex_contracts.events import ContentArchivedV1


def batch(n: int = 3) -> MessageBatch[ContentArchivedV1]:
    now = datetime.now(UTC)
    return make_batch(
        [ContentArchivedV1(content_id=f"c{i}", creator_id="u", archived_at=now) for i in range(n)]
    )


def test_returning_acks_and_raising_retries_what_has_no_decision() -> None:
    b = batch()
    assert outcomes(b) == ["ack", "ack", "ack"]
    b.messages[0].ack()
    b.messages[1].retry(delay_seconds=5)
    assert outcomes(b, raised=RuntimeError()) == ["ack", "retry:5", "retry"]


def test_first_call_wins_and_message_calls_override_batch_calls() -> None:
    b = batch()
    b.retry_all(delay_seconds=2)
    b.messages[0].ack()
    b.messages[0].retry()
    b.ack_all()
    b.messages[1].retry()
    b.messages[1].ack()
    assert outcomes(b) == ["ack", "retry", "retry:2"]
    assert outcomes(b, raised=RuntimeError()) == ["ack", "retry", "retry:2"]


def test_retry_inside_an_except_block_keeps_the_exception() -> None:
    b = batch(1)
    try:
        raise KeyError("missing")
    except KeyError:
        b.messages[0].retry()
    verdict = b.messages[0].verdict
    assert verdict is not None and isinstance(verdict.error, KeyError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_batch_size": 0},
        {"max_batch_size": 101},
        {"max_batch_timeout": -1},
        {"max_batch_timeout": 61},
        {"max_retries": 101},
        {"retry_delay": 43201},
        {"max_concurrency": 0},
    ],
)
def test_settings_outside_their_bounds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ConsumerSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_defaults_are_cloudflares() -> None:
    s = ConsumerSettings()
    assert (s.max_batch_size, s.max_batch_timeout, s.max_retries, s.retry_delay) == (10, 5.0, 3, 0)
    assert s.prefetch == 20


def test_a_retry_delay_is_checked_when_asked_for() -> None:
    with pytest.raises(InvalidDelay):
        batch(1).messages[0].retry(delay_seconds=43201)


def _raise_in(kind: type[Exception]) -> Exception:
    try:
        raise kind("x")
    except Exception as exc:
        return exc


def _raise_elsewhere() -> Exception:
    try:
        raise ValueError("y")
    except Exception as exc:
        return exc


def test_fingerprint_is_type_and_function_not_message_or_line() -> None:
    a, b = Failure.from_exception(_raise_in(ValueError)), Failure.from_exception(_raise_in(ValueError))
    assert a.fingerprint == b.fingerprint
    assert a.error_type == "ValueError" and a.location.startswith("test_bus_units:_raise_in:")
    assert Failure.from_exception(_raise_in(KeyError)).fingerprint != a.fingerprint
    assert Failure.from_exception(_raise_elsewhere()).fingerprint != a.fingerprint


def test_failure_messages_are_redacted_and_bounded() -> None:
    failure = Failure.of("E", "connect amqp://svc:hunter2@broker/ failed " + "x" * 5000, "m:f:1")
    assert "hunter2" not in failure.message
    assert len(failure.message) <= 1000


def test_attempts_count_our_header_and_the_brokers_redeliveries() -> None:
    assert attempts_of(None) == 1
    assert attempts_of({"x-delivery-count": 0}) == 1
    assert attempts_of({"codex-attempts": 3}) == 3
    assert attempts_of({"codex-attempts": 3, "x-delivery-count": 2}) == 5
    assert copyable({"x-death": [], "x-delivery-count": 1, "codex-attempts": 2}) == {"codex-attempts": 2}


def test_topology_names_carry_the_prefix() -> None:
    t = Topology(prefix="test-1.")
    assert t.events_exchange == "test-1.codex.events"
    assert t.queue("catalog") == "test-1.catalog"
    assert t.dead_letter_queue("test-1.catalog") == "test-1.catalog.dlq"
    assert t.dead_letter_queue("test-1.catalog", "failures") == "test-1.failures"
    assert t.queue_delay_queue("test-1.catalog", 5000) == "test-1.catalog.delay.5000"
    assert t.event_delay_queue(5000) == "test-1.codex.events.delayed.5000"
    assert t.due_exchange == "test-1.codex.events.due"
    assert t.unrouted == "test-1.codex.events.unrouted"


def test_cli_times_are_relative_or_iso() -> None:
    assert abs(parse_when("2h") - (datetime.now(UTC) - timedelta(hours=2))) < timedelta(seconds=5)
    assert parse_when("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
