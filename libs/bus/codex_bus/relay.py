"""The outbox relay: publishes committed outbox rows with confirms, marks them sent, cleans up.

It claims rows with `FOR UPDATE SKIP LOCKED` and keeps them locked while it publishes, so any
number of relays (in any number of replicas) share the work without publishing a row twice in the
normal course; a relay that dies between publish and mark-sent leaves its rows unsent, and another
relay publishes them again: at least once, with the inbox making the duplicate harmless.
It wakes on LISTEN/NOTIFY at commit and polls every `poll_interval` in case a notification is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from codex_bus._pg import PgConnection
from codex_bus.errors import BusError, PublishFailed
from codex_bus.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISH_LATENCY, OUTBOX_PUBLISHED
from codex_bus.publishing import PublishingSource

__all__ = ["OutboxRelay", "OutboxStats"]

log = structlog.stdlib.get_logger("codex_bus")

CHANNEL = "codex_outbox"

_CLAIM = """
SELECT seq, message_id, event_type, body, work_queue, delay_seconds, created_at FROM outbox
WHERE sent_at IS NULL AND available_at <= clock_timestamp()
ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
"""
_MARK_SENT = """
UPDATE outbox SET sent_at = clock_timestamp() WHERE seq = ANY($1::bigint[])
RETURNING extract(epoch FROM sent_at - created_at)::float8
"""
_MARK_FAILED = """
UPDATE outbox SET attempts = attempts + 1, last_error = $2,
    available_at = clock_timestamp() + least($3 * power(2, attempts), $4) * interval '1 second'
WHERE seq = $1
"""
_STATS = """
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
FROM outbox WHERE sent_at IS NULL
"""
_CLEANUP = """
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM outbox WHERE sent_at < clock_timestamp() - $1::interval
    ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED)
"""


@dataclass(frozen=True)
class OutboxStats:
    """Rows not yet published, and how long the oldest of them has waited."""

    backlog: int
    oldest_age_seconds: float


class OutboxRelay:
    """Relays the outbox of the pool's schema (the pool's `search_path`) to the bus."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: PublishingSource,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(hours=24),
        maintenance_interval: float = 15.0,
        failure_backoff: float = 2.0,
        max_failure_backoff: float = 300.0,
    ) -> None:
        self._pool = pool
        self._publishing = bus.publishing
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention = retention
        self.maintenance_interval = maintenance_interval
        self._backoff = (failure_backoff, max_failure_backoff)
        self._wake = asyncio.Event()
        self._schema: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: PgConnection | None = None

    @property
    def schema(self) -> str:
        if self._schema is None:
            raise RuntimeError("OutboxRelay is not started")
        return self._schema

    async def start(self) -> None:
        """Start relaying and maintenance in the background."""
        async with self._pool.acquire() as conn:
            self._schema = await conn.fetchval("SELECT current_schema()")
        self._tasks = [
            asyncio.create_task(self._relay_forever(), name=f"codex-outbox-relay:{self._schema}"),
            asyncio.create_task(self._maintain_forever(), name=f"codex-outbox-maintain:{self._schema}"),
        ]

    async def stop(self) -> None:
        """Stop; rows being published are either marked sent or left for the next relay."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._unlisten()

    async def relay_once(self) -> int:
        """Claim, publish and mark one batch of rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return 0
            results = await asyncio.gather(
                *(
                    self._publishing.publish_event(
                        row["body"],
                        message_id=row["message_id"],
                        event_type=row["event_type"],
                        timestamp=row["created_at"],
                        queue=row["work_queue"],
                        delay_seconds=row["delay_seconds"],
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            sent = [row["seq"] for row, result in zip(rows, results, strict=True) if result is None]
            lost = 0
            for row, result in zip(rows, results, strict=True):
                if result is None:
                    continue
                if type(result) is PublishFailed:
                    lost += 1  # the connection, not the row: it goes out on a later pass
                elif isinstance(result, BusError):
                    log.warning(
                        "bus.outbox_publish_failed",
                        message_id=row["message_id"],
                        type=row["event_type"],
                        error=str(result),
                    )
                    await conn.execute(_MARK_FAILED, row["seq"], str(result), *self._backoff)
                else:
                    raise result
            if sent:
                await self._mark_sent(conn, sent)
        if lost:
            raise PublishFailed(f"{lost} outbox rows were not confirmed; they stay pending")
        return len(sent)

    async def _mark_sent(self, conn: PgConnection, seqs: list[int]) -> None:
        latencies = await conn.fetch(_MARK_SENT, seqs)
        histogram = OUTBOX_PUBLISH_LATENCY.labels(self.schema)
        for (latency,) in latencies:
            histogram.observe(latency)
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(seqs))

    async def stats(self) -> OutboxStats:
        """Backlog and oldest age, also set on the Prometheus gauges."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_STATS)
        backlog, age = (int(row[0]), float(row[1])) if row is not None else (0, 0.0)
        OUTBOX_BACKLOG.labels(self.schema).set(backlog)
        OUTBOX_OLDEST_AGE.labels(self.schema).set(age)
        return OutboxStats(backlog=backlog, oldest_age_seconds=age)

    async def cleanup(self, chunk: int = 5000) -> int:
        """Delete rows sent longer ago than `retention`; returns how many."""
        deleted = 0
        while True:
            async with self._pool.acquire() as conn:
                status = await conn.execute(_CLEANUP, self.retention, chunk)
            count = int(status.split()[-1])
            deleted += count
            if count < chunk:
                return deleted

    async def _relay_forever(self) -> None:
        failures = 0
        while True:
            await self._listen()
            self._wake.clear()  # before claiming: a commit during the claim still wakes us
            try:
                sent = await self.relay_once()
                failures = 0
            except (BusError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                failures += 1
                log.warning(
                    "bus.outbox_relay_failed", schema=self._schema, error=f"{type(exc).__name__}: {exc}"
                )
                await asyncio.sleep(min(0.05 * 2**failures, 5.0))
                # A lost broker connection comes back by itself: wait for it rather than spin.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30):
                        await self._publishing.ready()
                continue
            if sent < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()

    async def _maintain_forever(self) -> None:
        while True:
            try:
                await self.stats()
                await self.cleanup()
            except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
                log.warning("bus.outbox_maintenance_failed", schema=self._schema, error=str(exc))
            await asyncio.sleep(self.maintenance_interval)

    def _notified(self, _conn: PgConnection, _pid: int, _channel: str, payload: object) -> None:
        if payload == self._schema:
            self._wake.set()

    async def _listen(self) -> None:
        # The listening connection is held for the relay's life; a lost one is replaced, and
        # polling covers the gap.
        if self._listener is not None and not self._listener.is_closed():
            return
        await self._unlisten()
        try:
            listener = await self._pool.acquire()
            await listener.add_listener(CHANNEL, self._notified)
            self._listener = listener
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.warning("bus.outbox_listen_failed", schema=self._schema, error=str(exc))

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(Exception):
            await listener.remove_listener(CHANNEL, self._notified)
        with contextlib.suppress(Exception):
            await self._pool.release(listener)  # type: ignore[arg-type]
