"""The listing's cursor and query checks, and the event each change announces, without I/O."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from codex_catalog.announcements import event_for
from codex_catalog.domain import Content
from codex_catalog.listing import OWN_SCOPE, Position, decode_cursor, encode_cursor, listing_query
from codex_catalog.repository import listing_sql
from codex_platform.errors import InvalidInput

NOW = datetime(2026, 12, 2, 12, 30, 15, 123456, tzinfo=UTC)


def test_a_cursor_round_trips_exactly_and_only_for_its_own_search() -> None:
    plain = Position(NOW, uuid.uuid4())
    assert decode_cursor(encode_cursor(plain, None), None) == plain
    ranked = Position(NOW, uuid.uuid4(), rank=0.0607927106320858)  # a float4 value, as ts_rank gives
    cursor = encode_cursor(ranked, "sailing")
    assert decode_cursor(cursor, "sailing") == ranked
    for search in (None, "knots"):
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, search)
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor(plain, None), "sailing")
    own = encode_cursor(plain, OWN_SCOPE)
    assert decode_cursor(own, OWN_SCOPE) == plain
    for scope in (None, "sailing"):
        with pytest.raises(InvalidInput):
            decode_cursor(own, scope)
    with pytest.raises(InvalidInput):
        decode_cursor(encode_cursor(plain, None), OWN_SCOPE)


@pytest.mark.parametrize(
    "cursor", ["", "%%%", "bm90IGpzb24", "WzEsMiwzXQ", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"]
)
def test_garbage_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(cursor or "=", None)
    assert refused.value.field == "cursor"


def test_query_checks() -> None:
    assert listing_query(limit=20, creator=None, pricing=None, q="  ", cursor=None).search is None
    for kwargs in ({"limit": 0}, {"limit": 101}, {"q": "a\x00"}, {"q": "x" * 201}, {"creator": "\x00"}):
        with pytest.raises(InvalidInput):
            listing_query(
                **{"limit": 20, "creator": None, "pricing": None, "q": None, "cursor": None, **kwargs}
            )  # type: ignore[arg-type]


def test_the_search_keyset_compares_rank_then_time_then_id() -> None:
    query = listing_query(limit=5, creator="u1", pricing="paid", q="sailing", cursor=None)
    after = Position(NOW, uuid.uuid4(), rank=0.5)
    sql, args = listing_sql(replace(query, after=after))
    assert "ORDER BY rank DESC, c.published_at DESC, c.id DESC" in sql
    assert "(ts_rank(c.search, tsq), c.published_at, c.id) < ($3::real, $4, $5)" in sql
    assert "c.price_cents > 0" in sql
    assert args == ["sailing", "u1", 0.5, NOW, after.id, 6]


def content(**changes: object) -> Content:
    base = Content("c1", "u1", "t", "d", 500, "USD", "up", "ready", False, NOW, NOW, None, None)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_each_change_announces_one_event_or_none() -> None:
    ready = content()
    assert event_for(None, ready, None) is None
    assert event_for(ready, replace(ready, updated_at=datetime.now(UTC)), None) is None
    assert event_for(ready, replace(ready, publish_requested=True), None) is None
    published = replace(ready, status="published", publish_requested=True, published_at=NOW)
    assert event_for(ready, published, "a1").type_name == "catalog.content.published.v1"  # type: ignore[union-attr]
    repriced = event_for(published, replace(published, price_cents=900), "a1")
    assert repriced is not None and repriced.type_name == "catalog.content.updated.v1"
    archived = replace(published, status="archived", archived_at=NOW)
    assert event_for(published, archived, None).type_name == "catalog.content.archived.v1"  # type: ignore[union-attr]
