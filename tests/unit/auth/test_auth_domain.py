"""The domain's rules, without I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from codex_auth.domain import (
    InvalidInput,
    Session,
    SessionPolicy,
    may_change_role,
    normalise_display_name,
    normalise_email,
    normalise_password,
    session_expiry,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
        ("\uff41\uff44\uff41@example.com", "ada@example.com"),  # full-width letters fold under NFKC
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
    ],
)
def test_addresses_have_one_spelling(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "ada", "@example.com", "ada@", "ada@localhost", "a b@example.com", "a@b@example.com",
            "ada@example..com", "ada@.example.com", f"{'a' * 65}@example.com", f"a@{'b' * 250}.com"],
)  # fmt: skip
def test_malformed_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalise_email(raw)
    assert refused.value.field == "email"


def test_passwords_are_counted_after_nfkc() -> None:
    assert normalise_password("x" * 8) == "x" * 8
    assert normalise_password("x" * 128) == "x" * 128
    # U+FB01 (the "fi" ligature) is two characters after NFKC: seven ligatures make fourteen.
    assert len(normalise_password("\ufb01" * 7)) == 14
    # U+2460 (circled one) becomes "1": seven of them and a letter make eight characters.
    assert normalise_password("\u2460" * 7 + "a") == "1111111a"
    for bad in ("x" * 7, "x" * 129, "\ufb01" * 65):
        with pytest.raises(InvalidInput):
            normalise_password(bad)


def test_passwords_keep_their_spaces() -> None:
    assert normalise_password("  padded password  ") == "  padded password  "


def test_display_names_are_trimmed_and_bounded() -> None:
    assert normalise_display_name("  Ada   Lovelace ") == "Ada Lovelace"
    for bad in ("", "   ", "x" * 81, "bell\x07"):
        with pytest.raises(InvalidInput):
            normalise_display_name(bad)


def test_sessions_slide_at_most_once_a_day() -> None:
    policy = SessionPolicy()
    now = datetime(2026, 1, 10, tzinfo=UTC)
    session = Session(uuid.uuid4(), uuid.uuid4(), now, now, session_expiry(now, policy), None, None, None)
    assert session.expires_at == now + timedelta(days=7)
    assert session.is_active(now + timedelta(days=6, hours=23))
    assert not session.is_active(now + timedelta(days=7))
    assert not session.needs_extension(now + timedelta(hours=23), policy)
    assert session.needs_extension(now + timedelta(days=1), policy)


def test_a_revoked_session_is_not_active() -> None:
    now = datetime(2026, 1, 10, tzinfo=UTC)
    session = Session(uuid.uuid4(), uuid.uuid4(), now, now, now + timedelta(days=7), now, None, None)
    assert not session.is_active(now)


def test_only_admins_change_roles_and_never_their_own() -> None:
    admin, other = uuid.uuid4(), uuid.uuid4()
    assert may_change_role("admin", admin, other)
    assert not may_change_role("admin", admin, admin)
    assert not may_change_role("creator", admin, other)
    assert not may_change_role("customer", admin, other)
