"""The content rules without I/O: status from facts, visibility, edits, entitlement, roles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from codex_catalog.domain import (
    Asset,
    Caller,
    Content,
    check_editable,
    check_may_watch,
    check_playable,
    check_visible,
    clean_text,
    settle,
    status_of,
)
from codex_platform.errors import Conflict, InvalidInput, NotFound, NotPermitted

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
CREATOR = Caller("u-creator", "creator")


def content(**changes: object) -> Content:
    base = Content(
        id="c1",
        creator_id=CREATOR.user_id,
        title="t",
        description="",
        price_cents=500,
        currency="USD",
        upload_id=None,
        status="draft",
        publish_requested=False,
        created_at=NOW,
        updated_at=NOW,
        published_at=None,
        archived_at=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def asset(state: str = "ready", owner: str = CREATOR.user_id) -> Asset:
    return Asset("up", "a1", owner, state, (), None, 4.0, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "known", "expected"),
    [
        ({}, None, "draft"),
        ({"publish_requested": True}, None, "draft"),
        ({"upload_id": "up"}, None, "processing"),
        ({"upload_id": "up", "publish_requested": True}, None, "processing"),
        ({"upload_id": "up"}, asset(), "ready"),
        ({"upload_id": "up", "publish_requested": True}, asset(), "published"),
        ({"upload_id": "up"}, asset("failed"), "failed"),
        ({"upload_id": "up", "publish_requested": True}, asset(owner="someone-else"), "failed"),
        ({"upload_id": "up", "publish_requested": True, "archived_at": NOW}, asset(), "archived"),
        ({"archived_at": NOW}, None, "archived"),
    ],
)
def test_status_follows_from_the_facts(facts: dict[str, object], known: Asset | None, expected: str) -> None:
    assert status_of(content(**facts), known) == expected


def test_published_at_is_set_once() -> None:
    first = settle(content(upload_id="up", publish_requested=True), asset(), NOW)
    assert first.published_at == NOW
    assert settle(first, asset(), NOW + timedelta(hours=1)).published_at == NOW


def test_only_published_content_is_public() -> None:
    draft = content()
    with pytest.raises(NotFound):
        check_visible(draft, None)
    with pytest.raises(NotFound):
        check_visible(draft, Caller("stranger", "creator"))
    assert check_visible(draft, CREATOR) is draft
    assert check_visible(draft, Caller("root", "admin")) is draft
    assert check_visible(content(status="published"), None).status == "published"


def test_edits_by_others_and_of_archived_content_are_refused() -> None:
    with pytest.raises(NotPermitted):
        check_editable(content(status="published"), Caller("other", "creator"))
    with pytest.raises(Conflict):
        check_editable(content(status="archived", archived_at=NOW), CREATOR)


def test_who_may_watch() -> None:
    paid = content(status="published", upload_id="up")
    buyer = Caller("buyer", "customer")
    with pytest.raises(NotPermitted):
        check_may_watch(paid, buyer, has_access=False)
    assert check_may_watch(paid, buyer, has_access=True) is paid
    assert check_may_watch(replace(paid, price_cents=0), buyer, has_access=False).is_free
    with pytest.raises(NotFound):  # free but not published: not offered to anyone yet
        check_may_watch(replace(paid, price_cents=0, status="ready"), buyer, has_access=False)
    with pytest.raises(Conflict):
        check_playable(content(status="processing", upload_id="up"), None)
    with pytest.raises(Conflict):
        check_playable(paid, asset("failed"))


def test_a_role_announced_after_the_token_was_issued_wins() -> None:
    caller = Caller("u", "creator", issued_at=NOW)
    assert caller.as_recorded("customer", NOW + timedelta(seconds=1)).role == "customer"
    assert caller.as_recorded("customer", NOW - timedelta(seconds=1)).role == "creator"
    assert caller.as_recorded(None, None).role == "creator"
    assert Caller("u", "creator").as_recorded("customer", NOW).role == "creator"  # no iat: the token


def test_text_is_cleaned_or_refused() -> None:
    assert clean_text("title", "  Knots  ", required=True, limit=10) == "Knots"
    for bad in ("", "   ", "a\x00b", "x" * 11):
        with pytest.raises(InvalidInput) as refused:
            clean_text("title", bad, required=True, limit=10)
        assert refused.value.field == "title"
