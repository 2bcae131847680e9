"""`run_worker`: a service's background process (its outbox relays, its consumers, its own loops and
the inbox pruning) in one call, supervised: when any part ends, the worker ends with an error.

```python
async def run_worker(settings: CatalogSettings) -> None:   # the service's bootstrap.py
    pool = await create_pool(settings.database_url, schema=settings.db_schema)
    try:
        bus = Bus(settings.amqp_url, topology=Topology(prefix=settings.bus_prefix))
        consumer = bus.consumer("catalog", SUBSCRIPTIONS)
        await codex_bus.run_worker(bus, relays=[OutboxRelay(pool, bus)], consumers=[consumer])
    finally:
        await pool.close()
```
Each part's state is the gauge `codex_bus_worker_part_up{part=...}` (1 running, 0 ended), e.g.
`relay:catalog`, `consumer:catalog`, `task:reconciler`, `inbox-pruner:catalog`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any

import aio_pika
import asyncpg
import structlog

from codex_bus.bus import Bus
from codex_bus.consumer import Consumer
from codex_bus.inbox import INBOX_RETENTION, prune_inbox_forever
from codex_bus.metrics import WORKER_PARTS
from codex_bus.relay import OutboxRelay

__all__ = ["WorkerPartEnded", "connect_patiently", "run_worker"]

_log = structlog.stdlib.get_logger("codex_bus")


class WorkerPartEnded(RuntimeError):
    """A part of the worker (relay, consumer, task, pruner) ended: the process must exit and be restarted."""


async def run_worker(
    bus: Bus,
    *,
    relays: Sequence[OutboxRelay] = (),
    consumers: Sequence[Consumer] = (),
    tasks: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] | None = None,
    inbox_pools: Sequence[asyncpg.Pool] = (),
    inbox_retention: timedelta = INBOX_RETENTION,
    inbox_prune_interval: float = 3600.0,
    max_connect_delay_s: float = 30.0,
) -> None:
    """Connect `bus` (waiting for the broker as long as it takes), start `relays` and `consumers`,
    and run until cancelled (`ServiceCli` cancels on SIGTERM/SIGINT); then stop them and close `bus`.

    A broker that is down at start is waited for rather than fatal: meanwhile the service's HTTP
    side keeps committing events to its outbox, and they are published once the broker answers.
    Make `relays` and `consumers` on `bus` before calling (neither touches the connection until
    started). The pools behind the relays stay the caller's to close. `tasks` are the service's own
    background loops by name (a sweeper, a reconciler), started once the bus is connected.

    The inbox of every relay's pool, and of each of `inbox_pools` (a service that consumes without
    an outbox), forgets ids handled more than `inbox_retention` ago, every `inbox_prune_interval`
    seconds; keep the retention longer than a dead letter may wait for replay.

    When any part ends (a relay's or consumer's loop, a task, the pruner), raises `WorkerPartEnded`
    after stopping the rest, so that the process exits non-zero and its supervisor restarts it.
    """
    await connect_patiently(bus, max_delay_s=max_connect_delay_s)
    started: list[OutboxRelay | Consumer] = []
    watched: list[asyncio.Task[None]] = []
    try:
        parts: list[OutboxRelay | Consumer] = [*relays, *consumers]
        for part in parts:
            await part.start()
            started.append(part)
        _log.info(
            "worker_started",
            schemas=[relay.schema for relay in relays],
            queues=[consumer.queue for consumer in consumers],
        )
        loops: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
        for relay in relays:
            loops[f"relay:{relay.schema}"] = relay.wait_ended
        for consumer in consumers:
            loops[f"consumer:{consumer.queue}"] = consumer.wait_ended
        for name, make in (tasks or {}).items():
            loops[f"task:{name}"] = make
        for pool in _distinct([relay.pool for relay in relays] + list(inbox_pools)):
            schema = await _schema_of(pool)
            loops[f"inbox-pruner:{schema}"] = _pruner(pool, inbox_retention, inbox_prune_interval)
        watched = [asyncio.create_task(make(), name=name) for name, make in loops.items()]
        for name in loops:
            WORKER_PARTS.labels(name).set(1)
        if not watched:
            await asyncio.Event().wait()
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        ended = done.pop()
        error = None if ended.cancelled() else ended.exception()
        _log.error(
            "worker_part_ended",
            part=ended.get_name(),
            error_type=type(error).__name__ if error else None,
            error=str(error) if error else None,
        )
        raise WorkerPartEnded(f"worker part {ended.get_name()!r} ended") from error
    finally:
        for task in watched:
            task.cancel()
        await asyncio.gather(*watched, return_exceptions=True)
        for task in watched:
            WORKER_PARTS.labels(task.get_name()).set(0)
        # Consumers first (their handlers may still write to an outbox), then the relays.
        for part in reversed(started):
            await part.stop()
        await bus.close()


async def connect_patiently(bus: Bus, *, max_delay_s: float = 30.0) -> None:
    """`bus.connect()`, retried with exponential backoff (0.5 s up to `max_delay_s`) until it succeeds."""
    delay = 0.5
    while True:
        try:
            await bus.connect()
            return
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            _log.warning("broker_unreachable", retry_in_s=delay, error_type=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)


def _pruner(
    pool: asyncpg.Pool, retention: timedelta, interval: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    return lambda: prune_inbox_forever(pool, retention, interval)


def _distinct(pools: Sequence[asyncpg.Pool]) -> list[asyncpg.Pool]:
    return list({id(pool): pool for pool in pools}.values())


async def _schema_of(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        return str(await conn.fetchval("SELECT current_schema()"))
