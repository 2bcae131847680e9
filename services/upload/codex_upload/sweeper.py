"""The sweeper: the worker's background loop that closes what clients leave open.

- A single-PUT upload whose object is in the store is completed though the client never called
  complete (as Mux does: the asset starts when the bytes are in), with the same verification.
- An open upload past its expiry is expired: its multipart upload aborted, any object deleted.
- A closed upload whose PUT URL may still have landed bytes late gets those deleted once it cannot.

Each upload is claimed with `FOR UPDATE SKIP LOCKED`, one per transaction: several sweepers (one per
worker replica) share the work without looking at the same upload twice, and an HTTP completion of
the same upload waits for the row instead of racing it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from codex_platform.errors import DomainError
from codex_upload import repository, store
from codex_upload.bootstrap import Deps
from codex_upload.completion import late_put_cleanup, settle
from codex_upload.domain import ObjectMissing, Upload
from codex_upload.repository import Conn

_log = structlog.stdlib.get_logger("codex_upload.sweeper")


@dataclass
class Sweep:
    """What one sweep did, by upload id."""

    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return sum(
            len(ids) for ids in (self.completed, self.failed, self.expired, self.cleaned, self.waiting)
        )


async def _sweep_one(conn: Conn, upload: Upload, deps: Deps, sweep: Sweep) -> None:
    now = deps.clock()
    upload_id = uuid.UUID(upload.id)
    settings = deps.settings
    if not upload.is_open:
        await store.discard(deps.storage, upload)
        await repository.sweep_later(conn, upload_id, None)
        sweep.cleaned.append(upload.id)
    elif upload.expires_at <= now:
        await store.discard(deps.storage, upload)
        cleanup = late_put_cleanup(upload, now, settings.late_put_grace_s) if upload.method == "put" else None
        await repository.close(conn, upload_id, state="expired", now=now, sweep_at=cleanup)
        sweep.expired.append(upload.id)
    elif upload.method == "put":
        try:
            settled = await settle(conn, upload, deps=deps)
        except ObjectMissing:
            later = min(now + timedelta(seconds=settings.put_check_interval_s), upload.expires_at)
            await repository.sweep_later(conn, upload_id, later)
            sweep.waiting.append(upload.id)
        else:
            (sweep.failed if settled.refused else sweep.completed).append(upload.id)
    else:
        # A multipart upload completes only with its client: the sweeper sees it again at expiry.
        await repository.sweep_later(conn, upload_id, upload.expires_at)
        sweep.waiting.append(upload.id)


async def sweep_once(deps: Deps) -> Sweep:
    """Look at up to `sweep_batch` uploads that are due, each in its own transaction."""
    sweep = Sweep()
    for _ in range(deps.settings.sweep_batch):
        upload: Upload | None = None
        async with deps.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    upload = await repository.claim_due(conn, deps.clock())
                    if upload is None:
                        break
                    await _sweep_one(conn, upload, deps, sweep)
            except (DomainError, OSError) as exc:
                # The store did not answer: this upload waits for a later sweep, the others go on.
                _log.warning("sweep_failed", error_type=type(exc).__name__, error=str(exc)[:300])
                if upload is not None:
                    later = deps.clock() + timedelta(seconds=deps.settings.put_check_interval_s)
                    await repository.sweep_later(conn, uuid.UUID(upload.id), later)
    if sweep.claimed:
        _log.info(
            "sweep",
            completed=len(sweep.completed),
            failed=len(sweep.failed),
            expired=len(sweep.expired),
            cleaned=len(sweep.cleaned),
            waiting=len(sweep.waiting),
        )
    return sweep


async def run_sweeper(deps: Deps) -> None:
    """Sweep until cancelled: at once again after a full batch, else after `sweep_interval_s`."""
    while True:
        try:
            claimed = (await sweep_once(deps)).claimed
        except (asyncpg.PostgresError, OSError) as exc:
            # The database blinked: what was claimed rolled back and is swept again next time.
            _log.warning("sweep_aborted", error_type=type(exc).__name__, error=str(exc)[:300])
            claimed = 0
        if claimed < deps.settings.sweep_batch:
            await asyncio.sleep(deps.settings.sweep_interval_s)


def background(deps: Deps) -> Mapping[str, Callable[[], Coroutine[Any, Any, None]]]:
    """The worker's tasks (codex_bus.service_worker): the sweeper."""
    return {"sweeper": lambda: run_sweeper(deps)}
