"""asyncpg queries on media-dispatch's own schema (assets, jobs). Callers hold the transactions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Row = asyncpg.Record
PgConnection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

WAKE_CHANNEL = "media_dispatch_wake"
"""NOTIFY'd (with the schema as payload) when an asset is queued or a slot frees up."""


async def wake_dispatchers(conn: PgConnection) -> None:
    """Delivered at commit, to every replica's dispatcher listening on this database."""
    await conn.execute("SELECT pg_notify($1, current_schema())", WAKE_CHANNEL)


async def insert_asset(conn: PgConnection, asset: dict[str, Any]) -> bool:
    """The asset of an upload, queued; False when the upload already has one."""
    created = await conn.fetchval(
        """
        INSERT INTO assets (id, upload_id, owner_id, bucket, source_key, filename, size_bytes, state)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')
        ON CONFLICT (upload_id) DO NOTHING
        RETURNING true
        """,
        asset["id"], asset["upload_id"], asset["owner_id"], asset["bucket"], asset["source_key"],
        asset["filename"], asset["size_bytes"],
    )  # fmt: skip
    return bool(created)


@dataclass(frozen=True)
class Claimed:
    asset_id: str
    job_id: str
    attempt: int
    bucket: str
    source_key: str
    waited_s: float
    submit_failures: int = 0


async def claim_for_submission(
    conn: PgConnection,
    *,
    max_in_flight: int,
    limit: int,
    new_job: Callable[[], tuple[str, bytes]],
    grace_s: float,
) -> list[Claimed]:
    """In the caller's transaction: mark the oldest queued assets submitted, as many as free slots
    allow (at most `limit`), each with a job from `new_job()` (its id and token hash). Replicas take
    turns on an advisory lock so the count of free slots is true; `SKIP LOCKED` passes over a row an
    admin holds."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.dispatch'))")
    in_flight = await conn.fetchval("SELECT count(*) FROM assets WHERE state IN ('submitted', 'running')")
    free = min(max_in_flight - int(in_flight), limit)
    if free <= 0:
        return []
    rows = await conn.fetch(
        """
        SELECT id, bucket, source_key, attempts, submit_failures,
               extract(epoch FROM now() - created_at) AS waited
        FROM assets WHERE state = 'queued' AND not_before <= now()
        ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        free,
    )
    claimed = []
    for row in rows:
        job_id, hashed = new_job()
        attempt = row["attempts"] + 1
        await conn.execute(
            "INSERT INTO jobs (id, asset_id, attempt, token_hash) VALUES ($1, $2, $3, $4)",
            job_id, row["id"], attempt, hashed,
        )  # fmt: skip
        await conn.execute(
            """
            UPDATE assets SET state = 'submitted', job_id = $2, runpod_job_id = NULL, attempts = $3,
                last_submitted_at = now(),
                check_at = now() + make_interval(secs => $4), progress_percent = NULL,
                progress_stage = NULL, updated_at = now()
            WHERE id = $1
            """,
            row["id"], job_id, attempt, grace_s,
        )  # fmt: skip
        claimed.append(
            Claimed(
                row["id"],
                job_id,
                attempt,
                row["bucket"],
                row["source_key"],
                float(row["waited"]),
                row["submit_failures"],
            )
        )
    return claimed


async def record_runpod_id(pool: asyncpg.Pool[Any], claimed: Claimed, runpod_id: str, poll_s: float) -> None:
    """RunPod accepted the job: the reconciler reads its status from `poll_s` on."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE jobs SET runpod_job_id = $2 WHERE id = $1", claimed.job_id, runpod_id)
        await conn.execute(
            """
            UPDATE assets SET runpod_job_id = $3, submit_failures = 0, updated_at = now(),
                last_submitted_at = now(), first_submitted_at = coalesce(first_submitted_at, now()),
                -- a fast job's webhook may have decided the asset already
                check_at = CASE WHEN state IN ('submitted', 'running')
                                THEN now() + make_interval(secs => $4) END
            WHERE id = $1 AND job_id = $2
            """,
            claimed.asset_id, claimed.job_id, runpod_id, poll_s,
        )  # fmt: skip


async def release_claim(pool: asyncpg.Pool[Any], claimed: Claimed, delay_s: float, reason: str) -> bool:
    """RunPod did not take the job (429, 5xx): back in the queue, in its place, after `delay_s`."""
    async with pool.acquire() as conn, conn.transaction():
        released = await conn.fetchval(
            """
            UPDATE assets SET state = 'queued', job_id = NULL, attempts = attempts - 1,
                submit_failures = submit_failures + 1, last_reason = $3, check_at = NULL,
                not_before = now() + make_interval(secs => $4), updated_at = now()
            WHERE id = $1 AND job_id = $2 AND state = 'submitted' AND runpod_job_id IS NULL
            RETURNING true
            """,
            claimed.asset_id, claimed.job_id, reason, delay_s,
        )  # fmt: skip
        await conn.execute("UPDATE jobs SET outcome = 'not-accepted' WHERE id = $1", claimed.job_id)
        await wake_dispatchers(conn)
    return bool(released)


async def claim_due(conn: PgConnection, *, limit: int, lease_s: float) -> list[Row]:
    """In-flight assets whose status is due; each is leased for `lease_s` so replicas share them."""
    return list(
        await conn.fetch(
            """
            WITH due AS (
                SELECT id FROM assets
                WHERE state IN ('submitted', 'running') AND check_at <= now()
                ORDER BY check_at LIMIT $1 FOR UPDATE SKIP LOCKED
            )
            UPDATE assets a SET check_at = now() + make_interval(secs => $2)
            FROM due WHERE a.id = due.id
            RETURNING a.id, a.job_id, a.runpod_job_id, a.state, a.last_submitted_at
            """,
            limit,
            lease_s,
        )
    )


async def defer_check(pool: asyncpg.Pool[Any], asset_id: str, delay_s: float) -> None:
    """RunPod asked for `Retry-After`: no /status read of this job before then."""
    await pool.execute(
        "UPDATE assets SET check_at = greatest(check_at, now() + make_interval(secs => $2)) WHERE id = $1",
        asset_id,
        delay_s,
    )


async def job_token_hash(pool: asyncpg.Pool[Any], job_id: str) -> bytes | None:
    hashed: bytes | None = await pool.fetchval("SELECT token_hash FROM jobs WHERE id = $1", job_id)
    return hashed


async def lock_asset_of_job(conn: PgConnection, job_id: str) -> Row | None:
    """The asset a job was submitted for, locked for the transition (the row lock is what keeps the
    webhook and the reconciler from both applying one transition)."""
    row: Row | None = await conn.fetchrow(
        """
        SELECT a.*, j.id AS this_job FROM jobs j JOIN assets a ON a.id = j.asset_id
        WHERE j.id = $1 FOR UPDATE OF a
        """,
        job_id,
    )
    return row


async def lock_asset(conn: PgConnection, asset_id: str) -> Row | None:
    row: Row | None = await conn.fetchrow("SELECT * FROM assets WHERE id = $1 FOR UPDATE", asset_id)
    return row


async def update_asset(conn: PgConnection, asset_id: str, changes: dict[str, Any]) -> None:
    """Set columns (names from this module's callers, never from input); `now()` for `updated_at`."""
    names = list(changes)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
    await conn.execute(
        f"UPDATE assets SET {assignments}, updated_at = now() WHERE id = $1",  # noqa: S608
        asset_id,
        *(changes[name] for name in names),
    )


async def set_job_outcome(conn: PgConnection, job_id: str, outcome: str) -> None:
    await conn.execute("UPDATE jobs SET outcome = coalesce(outcome, $2) WHERE id = $1", job_id, outcome)


async def get_asset(pool: asyncpg.Pool[Any], asset_id: str) -> Row | None:
    row: Row | None = await pool.fetchrow("SELECT * FROM assets WHERE id = $1", asset_id)
    return row


async def list_assets(
    pool: asyncpg.Pool[Any],
    *,
    owner_id: str | None,
    upload_id: str | None,
    state: str | None,
    limit: int,
    before: tuple[Any, str] | None,
) -> list[Row]:
    """Newest first; `before` is the (created_at, id) of the last asset of the previous page."""
    return list(
        await pool.fetch(
            """
            SELECT * FROM assets
            WHERE ($1::text IS NULL OR owner_id = $1) AND ($2::text IS NULL OR upload_id = $2)
              AND ($3::text IS NULL OR state = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6
            """,
            owner_id,
            upload_id,
            state,
            before[0] if before else None,
            before[1] if before else None,
            limit,
        )
    )
