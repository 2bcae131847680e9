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
from codex_bus.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISH_LATENCY,
    OUTBOX_PUBLISHED,
    RELAY_FAILURES,
)
from codex_bus.outbox_sql import CLAIM, CLEANUP, MARK_FAILED, MARK_SENT, STATS
from codex_bus.publishing import PublishingSource

__all__ = ["OutboxRelay", "OutboxStats"]

log = structlog.stdlib.get_logger("codex_bus")

CHANNEL = "codex_outbox"

# Failures of a pass that say nothing is wrong with the relay itself (logged without a traceback).
_EXPECTED = (BusError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError)


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
        publish_timeout: float = 30.0,
    ) -> None:
        self._pool = pool
        self._publishing = bus.publishing
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retention = retention
        self.maintenance_interval = maintenance_interval
        self._backoff = (failure_backoff, max_failure_backoff)
        self.publish_timeout = publish_timeout
        self._wake = asyncio.Event()
        self._schema: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: PgConnection | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool whose schema's outbox this relay publishes."""
        return self._pool

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

    async def wait_ended(self) -> None:
        """Return (or raise what ended it) when one of the relay's loops ends, which only a bug
        does: they log and retry whatever fails."""
        if not self._tasks:
            raise RuntimeError("OutboxRelay is not started")
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        raise RuntimeError(f"the outbox relay of {self._schema} ended")

    async def stop(self) -> None:
        """Stop; rows being published are either marked sent or left for the next relay."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._unlisten()

    async def relay_once(self) -> int:
        """Claim, publish and mark one batch of rows; returns how many were published.

        Claims nothing while the broker connection is down (raises `PublishFailed`): a claim holds
        row locks, a pool connection and Postgres's vacuum horizon until it ends, so it must not
        wait for an outage. Each publish is bounded by `publish_timeout`. The rows that went out
        are marked sent first; a row that failed is marked on a savepoint of its own, so that
        nothing about one row can undo the sent marks of the others.
        """
        if not self._publishing.is_connected:
            raise PublishFailed("the broker connection is down: no outbox rows claimed")
        async with self._pool.acquire() as conn, conn.transaction():
            if self._schema is None:  # called without start(), as tests and tools do
                self._schema = await conn.fetchval("SELECT current_schema()")
            rows = await conn.fetch(CLAIM, self.batch_size)
            if not rows:
                return 0
            results = await asyncio.gather(*(self._publish(row) for row in rows), return_exceptions=True)
            sent = [row["seq"] for row, result in zip(rows, results, strict=True) if result is None]
            if sent:
                await self._mark_sent(conn, sent)
            lost = 0
            for row, result in zip(rows, results, strict=True):
                if result is None:
                    continue
                if type(result) is PublishFailed:
                    lost += 1  # the connection, not the row: it goes out on a later pass
                elif isinstance(result, Exception):
                    await self._mark_failed(conn, row, result)
                else:
                    raise result  # CancelledError and the like: the claim rolls back
        if lost:
            raise PublishFailed(f"{lost} outbox rows were not confirmed; they stay pending")
        return len(sent)

    async def _publish(self, row: asyncpg.Record) -> None:
        try:
            async with asyncio.timeout(self.publish_timeout):
                await self._publishing.publish_event(
                    row["body"],
                    message_id=row["message_id"],
                    event_type=row["event_type"],
                    timestamp=row["created_at"],
                    queue=row["work_queue"],
                    delay_seconds=row["delay_seconds"],
                )
        except TimeoutError:
            raise PublishFailed(f"message {row['message_id']} was not confirmed in time") from None

    async def _mark_failed(self, conn: PgConnection, row: asyncpg.Record, error: Exception) -> None:
        fields = {"message_id": row["message_id"], "type": row["event_type"], "schema": self._schema}
        if isinstance(error, BusError):
            log.warning("bus.outbox_publish_failed", error=str(error), **fields)
        else:  # not a failure the bus knows: a bug, or a broker error on a declaration
            log.error("bus.outbox_publish_crashed", error=f"{type(error).__name__}: {error}", **fields)
        try:
            async with conn.transaction():  # a savepoint: its failure leaves the sent marks alone
                await conn.execute(
                    MARK_FAILED, row["seq"], f"{type(error).__name__}: {error}", *self._backoff
                )
        except asyncpg.PostgresError as exc:
            log.error("bus.outbox_mark_failed_failed", error=f"{type(exc).__name__}: {exc}", **fields)

    async def _mark_sent(self, conn: PgConnection, seqs: list[int]) -> None:
        latencies = await conn.fetch(MARK_SENT, seqs)
        histogram = OUTBOX_PUBLISH_LATENCY.labels(self.schema)
        for (latency,) in latencies:
            histogram.observe(latency)
        OUTBOX_PUBLISHED.labels(self.schema).inc(len(seqs))

    async def stats(self) -> OutboxStats:
        """Backlog and oldest age, also set on the Prometheus gauges."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(STATS)
        backlog, age = (int(row[0]), float(row[1])) if row is not None else (0, 0.0)
        OUTBOX_BACKLOG.labels(self.schema).set(backlog)
        OUTBOX_OLDEST_AGE.labels(self.schema).set(age)
        return OutboxStats(backlog=backlog, oldest_age_seconds=age)

    async def cleanup(self, chunk: int = 5000) -> int:
        """Delete rows sent longer ago than `retention`; returns how many."""
        deleted = 0
        while True:
            async with self._pool.acquire() as conn:
                status = await conn.execute(CLEANUP, self.retention, chunk)
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
            except Exception as exc:
                # Whatever fails, the loop lives on: it logs, backs off and tries again; a relay
                # that died here would leave the worker looking healthy while publishing nothing.
                failures += 1
                RELAY_FAILURES.labels(self.schema).inc()
                error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, _EXPECTED):
                    log.warning("bus.outbox_relay_failed", schema=self._schema, error=error)
                else:
                    log.exception("bus.outbox_relay_crashed", schema=self._schema, error=error)
                await asyncio.sleep(min(0.05 * 2 ** min(failures, 10), 5.0))
                # A lost broker connection comes back by itself: wait for it rather than spin.
                with contextlib.suppress(Exception):
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
            except Exception as exc:
                log.warning(
                    "bus.outbox_maintenance_failed", schema=self._schema, error=f"{type(exc).__name__}: {exc}"
                )
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
