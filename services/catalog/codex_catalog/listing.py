"""The listing's query and its opaque keyset cursor. No I/O.

A page is the rows strictly after the last row of the previous page in the listing's order: newest
published first (`published_at`, then `id`), or with a search term best rank first (`rank`, then
the same). Rows published while a client pages appear before its position, never inside the pages
still to come, so nothing is skipped or shown twice. The cursor is the last row's sort key, in
base64url JSON; it also records the search term, so a cursor is only accepted for its own query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import msgspec

from codex_platform.errors import InvalidInput

Pricing = Literal["free", "paid"]
DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_QUERY = 200


class _Key(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    at: datetime
    id: uuid.UUID
    rank: float | None = None
    query: str | None = None  # a digest of the search term the cursor belongs to


@dataclass(frozen=True, slots=True)
class Position:
    """The sort key of the last row a client has seen (`at`: published_at, or created_at in a
    creator's own listing)."""

    at: datetime
    id: uuid.UUID
    rank: float | None = None


@dataclass(frozen=True, slots=True)
class ListingQuery:
    limit: int = DEFAULT_PAGE
    creator_id: str | None = None
    pricing: Pricing | None = None
    search: str | None = None
    after: Position | None = None


@dataclass(frozen=True, slots=True)
class OwnQuery:
    """A creator's own content, every status, newest created first."""

    creator_id: str
    limit: int = DEFAULT_PAGE
    after: Position | None = None


# The scope of the own listing's cursors: no search term contains a NUL, so none can be mistaken.
OWN_SCOPE = "\x00own"


def _digest(scope: str | None) -> str | None:
    return None if scope is None else hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode_cursor(position: Position, scope: str | None) -> str:
    """`scope`: the search term (None for the plain listing) or OWN_SCOPE."""
    key = _Key(position.at, position.id, position.rank, _digest(scope))
    return base64.urlsafe_b64encode(msgspec.json.encode(key)).rstrip(b"=").decode()


def decode_cursor(cursor: str, scope: str | None) -> Position:
    """The position a cursor holds, if it was made for `scope` (else 400)."""
    bad = InvalidInput("cursor", "is not a cursor of this listing", source="query")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=_Key)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad from None
    ranked = scope is not None and scope != OWN_SCOPE
    if key.query != _digest(scope) or (key.rank is not None) != ranked or key.at.tzinfo is None:
        raise bad
    return Position(key.at, key.id, key.rank)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be within 1..{MAX_PAGE}", source="query")


def own_query(creator_id: str, *, limit: int, cursor: str | None) -> OwnQuery:
    _check_limit(limit)
    return OwnQuery(creator_id, limit, decode_cursor(cursor, OWN_SCOPE) if cursor else None)


def listing_query(
    *,
    limit: int,
    creator: str | None,
    pricing: Pricing | None,
    q: str | None,
    cursor: str | None,
) -> ListingQuery:
    """The query a request asks for, checked; a blank search term means no search."""
    _check_limit(limit)
    search = q.strip() if q is not None else None
    if search is not None and ("\x00" in search or len(search) > MAX_QUERY):
        raise InvalidInput("q", f"must be at most {MAX_QUERY} characters, without NUL", source="query")
    if creator is not None and ("\x00" in creator or len(creator) > 100):
        raise InvalidInput("creator", "is not a user id", source="query")
    search = search or None
    after = decode_cursor(cursor, search) if cursor else None
    return ListingQuery(limit=limit, creator_id=creator, pricing=pricing, search=search, after=after)
