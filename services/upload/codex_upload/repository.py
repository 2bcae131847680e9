"""asyncpg queries on the upload service's own schema (search_path: the pool's)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from codex_upload.domain import Upload

Conn: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

# Interpolated into the queries below: a constant, never input (hence the S608 waivers).
_COLUMNS = """id, owner_id, filename, content_type, size_bytes, method, object_key, state, created_at,
    expires_at, multipart_id, part_size, part_count, etag, failure_reason, completed_at"""


def _upload(row: asyncpg.Record) -> Upload:
    values = dict(row)
    values["id"] = str(values["id"])
    return Upload(**values)


async def insert(conn: Conn, upload: Upload, *, sweep_at: datetime | None) -> None:
    await conn.execute(
        """INSERT INTO uploads (id, owner_id, filename, content_type, size_bytes, method, object_key,
               state, created_at, updated_at, expires_at, multipart_id, part_size, part_count, sweep_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14)""",
        uuid.UUID(upload.id),
        upload.owner_id,
        upload.filename,
        upload.content_type,
        upload.size_bytes,
        upload.method,
        upload.object_key,
        upload.state,
        upload.created_at,
        upload.expires_at,
        upload.multipart_id,
        upload.part_size,
        upload.part_count,
        sweep_at,
    )


async def get(conn: Conn, upload_id: uuid.UUID) -> Upload | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM uploads WHERE id = $1", upload_id)  # noqa: S608
    return _upload(row) if row else None


async def lock(conn: Conn, upload_id: uuid.UUID) -> Upload | None:
    """The upload, its row locked until the transaction ends: completions, aborts and sweeps of one
    upload take turns, so its state changes (and its event is written) exactly once."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM uploads WHERE id = $1 FOR UPDATE", upload_id)  # noqa: S608
    return _upload(row) if row else None


async def page_of_owner(
    conn: Conn, owner_id: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Upload]:
    """Newest first; `after` is the (created_at, id) of the last upload of the previous page."""
    if after is None:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM uploads WHERE owner_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2""",  # noqa: S608
            owner_id,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM uploads WHERE owner_id = $1 AND (created_at, id) < ($2, $3)
                ORDER BY created_at DESC, id DESC LIMIT $4""",  # noqa: S608
            owner_id,
            after[0],
            after[1],
            limit,
        )
    return [_upload(row) for row in rows]


async def mark_uploading(conn: Conn, upload_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE uploads SET state = 'uploading', updated_at = $2 WHERE id = $1 AND state = 'pending'",
        upload_id,
        now,
    )


async def complete(conn: Conn, upload_id: uuid.UUID, *, etag: str, now: datetime) -> None:
    await conn.execute(
        """UPDATE uploads SET state = 'completed', etag = $2, completed_at = $3, updated_at = $3,
               sweep_at = NULL
           WHERE id = $1""",
        upload_id,
        etag,
        now,
    )


async def close(
    conn: Conn,
    upload_id: uuid.UUID,
    *,
    state: str,
    now: datetime,
    sweep_at: datetime | None,
    reason: str | None = None,
) -> None:
    """End an upload that will not complete (aborted, expired, failed)."""
    await conn.execute(
        """UPDATE uploads SET state = $2, failure_reason = $3, updated_at = $4, sweep_at = $5
           WHERE id = $1""",
        upload_id,
        state,
        reason,
        now,
        sweep_at,
    )


async def sweep_later(conn: Conn, upload_id: uuid.UUID, at: datetime | None) -> None:
    await conn.execute("UPDATE uploads SET sweep_at = $2 WHERE id = $1", upload_id, at)


async def claim_due(conn: Conn, now: datetime) -> Upload | None:
    """One upload the sweeper should look at now, locked; rows another sweeper holds are skipped."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM uploads WHERE sweep_at <= $1
            ORDER BY sweep_at LIMIT 1 FOR UPDATE SKIP LOCKED""",  # noqa: S608
        now,
    )
    return _upload(row) if row else None
