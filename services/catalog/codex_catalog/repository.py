"""asyncpg queries on the catalog's own schema (search_path is set by the pool)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from codex_catalog.domain import Asset, Content, Rendition
from codex_catalog.listing import ListingQuery, OwnQuery

Connection: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

_CONTENT_COLUMNS = """id, creator_id, title, description, price_cents, currency, upload_id, status,
    publish_requested, created_at, updated_at, published_at, archived_at"""


def _content(row: asyncpg.Record) -> Content:
    return Content(
        id=str(row["id"]),
        creator_id=row["creator_id"],
        title=row["title"],
        description=row["description"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        upload_id=row["upload_id"],
        status=row["status"],
        publish_requested=row["publish_requested"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        published_at=row["published_at"],
        archived_at=row["archived_at"],
    )


def _uuid(content_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(content_id)
    except ValueError:
        return None


async def get_content(conn: Connection, content_id: str, *, for_update: bool = False) -> Content | None:
    key = _uuid(content_id)
    if key is None:
        return None
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_CONTENT_COLUMNS} FROM content WHERE id = $1{lock}", key)  # noqa: S608
    return _content(row) if row else None


async def contents_of_upload(conn: Connection, upload_id: str) -> list[Content]:
    """Every content using `upload_id`, locked for the caller's transaction (in id order: no deadlock)."""
    rows = await conn.fetch(
        f"SELECT {_CONTENT_COLUMNS} FROM content WHERE upload_id = $1 ORDER BY id FOR UPDATE",  # noqa: S608
        upload_id,
    )
    return [_content(row) for row in rows]


async def insert_content(conn: Connection, c: Content) -> None:
    await conn.execute(
        f"INSERT INTO content ({_CONTENT_COLUMNS}) "  # noqa: S608
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        uuid.UUID(c.id), c.creator_id, c.title, c.description, c.price_cents, c.currency, c.upload_id,
        c.status, c.publish_requested, c.created_at, c.updated_at, c.published_at, c.archived_at,
    )  # fmt: skip


async def save_content(conn: Connection, c: Content) -> None:
    await conn.execute(
        """UPDATE content SET title = $2, description = $3, price_cents = $4, currency = $5,
               upload_id = $6, status = $7, publish_requested = $8, updated_at = $9,
               published_at = $10, archived_at = $11
           WHERE id = $1""",
        uuid.UUID(c.id), c.title, c.description, c.price_cents, c.currency, c.upload_id, c.status,
        c.publish_requested, c.updated_at, c.published_at, c.archived_at,
    )  # fmt: skip


def _asset(row: asyncpg.Record) -> Asset:
    renditions = tuple(
        Rendition(r["name"], r["key"], r["width"], r["height"], r["bitrate"], r["codec"])
        for r in row["renditions"]
    )
    return Asset(
        upload_id=row["upload_id"],
        asset_id=row["asset_id"],
        owner_id=row["owner_id"],
        state=row["state"],
        renditions=renditions,
        thumbnail_key=row["thumbnail_key"],
        duration_s=row["duration_s"],
        occurred_at=row["occurred_at"],
    )


async def get_asset(conn: Connection, upload_id: str | None) -> Asset | None:
    if upload_id is None:
        return None
    row = await conn.fetchrow("SELECT * FROM assets WHERE upload_id = $1", upload_id)
    return _asset(row) if row else None


async def record_asset(
    conn: Connection, asset: Asset, *, error_code: str | None = None, error_message: str | None = None
) -> bool:
    """Keep `asset` unless a later event about its upload is already kept; True if it was kept.

    On equal times, ready wins over failed: a success reported at the same instant is the outcome.
    """
    renditions = [
        {"name": r.name, "key": r.key, "width": r.width, "height": r.height, "bitrate": r.bitrate,
         "codec": r.codec}
        for r in asset.renditions
    ]  # fmt: skip
    kept = await conn.fetchval(
        """INSERT INTO assets AS a (upload_id, asset_id, owner_id, state, renditions, thumbnail_key,
                                    duration_s, error_code, error_message, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (upload_id) DO UPDATE SET
               asset_id = EXCLUDED.asset_id, owner_id = EXCLUDED.owner_id, state = EXCLUDED.state,
               renditions = EXCLUDED.renditions, thumbnail_key = EXCLUDED.thumbnail_key,
               duration_s = EXCLUDED.duration_s, error_code = EXCLUDED.error_code,
               error_message = EXCLUDED.error_message, occurred_at = EXCLUDED.occurred_at
           WHERE a.occurred_at < EXCLUDED.occurred_at
              OR (a.occurred_at = EXCLUDED.occurred_at AND a.state = 'failed' AND EXCLUDED.state = 'ready')
           RETURNING true""",
        asset.upload_id, asset.asset_id, asset.owner_id, asset.state, renditions, asset.thumbnail_key,
        asset.duration_s, error_code, error_message, asset.occurred_at,
    )  # fmt: skip
    return bool(kept)


async def record_creator_name(conn: Connection, user_id: str, display_name: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO creators AS c (user_id, display_name, named_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name,
               named_at = EXCLUDED.named_at
           WHERE c.named_at IS NULL OR c.named_at < EXCLUDED.named_at""",
        user_id, display_name, at,
    )  # fmt: skip


async def record_creator_role(conn: Connection, user_id: str, role: str, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO creators AS c (user_id, role, role_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role, role_at = EXCLUDED.role_at
           WHERE c.role_at IS NULL OR c.role_at < EXCLUDED.role_at""",
        user_id, role, at,
    )  # fmt: skip


async def creator_name(conn: Connection, user_id: str) -> str | None:
    name: str | None = await conn.fetchval("SELECT display_name FROM creators WHERE user_id = $1", user_id)
    return name


async def recorded_role(conn: Connection, user_id: str) -> tuple[str | None, datetime | None]:
    row = await conn.fetchrow("SELECT role, role_at FROM creators WHERE user_id = $1", user_id)
    return (row["role"], row["role_at"]) if row else (None, None)


async def record_access(
    conn: Connection, *, customer_id: str, content_id: str, granted: bool, purchase_id: str, at: datetime
) -> bool:
    """The latest purchase event by its own time decides; at equal times a revocation wins."""
    kept = await conn.fetchval(
        """INSERT INTO access AS a (customer_id, content_id, granted, purchase_id, decided_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (customer_id, content_id) DO UPDATE SET granted = EXCLUDED.granted,
               purchase_id = EXCLUDED.purchase_id, decided_at = EXCLUDED.decided_at
           WHERE a.decided_at < EXCLUDED.decided_at
              OR (a.decided_at = EXCLUDED.decided_at AND NOT EXCLUDED.granted)
           RETURNING true""",
        customer_id, content_id, granted, purchase_id, at,
    )  # fmt: skip
    return bool(kept)


async def has_access(conn: Connection, customer_id: str, content_id: str) -> bool:
    granted = await conn.fetchval(
        "SELECT granted FROM access WHERE customer_id = $1 AND content_id = $2", customer_id, content_id
    )
    return bool(granted)


LISTING_COLUMNS = """c.id, c.creator_id, cr.display_name AS creator_name, c.title, c.description,
    c.price_cents, c.currency, c.status, c.published_at, c.created_at, c.updated_at"""


def listing_sql(query: ListingQuery) -> tuple[str, list[Any]]:
    """The page's statement and arguments (one more row than the page: is there a next page?)."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = ["c.status = 'published'"]
    columns, search, order = LISTING_COLUMNS, "", "c.published_at DESC, c.id DESC"
    if query.search is not None:
        search = f" CROSS JOIN websearch_to_tsquery('english', {arg(query.search)}) AS tsq"
        columns += ", ts_rank(c.search, tsq) AS rank"
        where.append("c.search @@ tsq")
        order = "rank DESC, " + order
    if query.creator_id is not None:
        where.append(f"c.creator_id = {arg(query.creator_id)}")
    if query.pricing == "free":
        where.append("c.price_cents = 0")
    elif query.pricing == "paid":
        where.append("c.price_cents > 0")
    after = query.after
    if after is not None and query.search is not None:
        where.append(
            f"(ts_rank(c.search, tsq), c.published_at, c.id) < "
            f"({arg(after.rank)}::real, {arg(after.at)}, {arg(after.id)})"
        )
    elif after is not None:
        where.append(f"(c.published_at, c.id) < ({arg(after.at)}, {arg(after.id)})")
    sql = (
        f"SELECT {columns} FROM content c LEFT JOIN creators cr ON cr.user_id = c.creator_id{search} "  # noqa: S608
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT {arg(query.limit + 1)}"
    )
    return sql, args


async def list_published(conn: Connection, query: ListingQuery) -> list[asyncpg.Record]:
    sql, args = listing_sql(query)
    return list(await conn.fetch(sql, *args))


async def list_own(conn: Connection, query: OwnQuery) -> list[Content]:
    """One page (plus one row) of a creator's content, newest created first."""
    args: list[Any] = [query.creator_id, query.limit + 1]
    after = ""
    if query.after is not None:
        args += [query.after.at, query.after.id]
        after = "AND (created_at, id) < ($3, $4)"
    rows = await conn.fetch(
        f"SELECT {_CONTENT_COLUMNS} FROM content WHERE creator_id = $1 {after} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT $2",
        *args,
    )
    return [_content(row) for row in rows]
