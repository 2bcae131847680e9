"""`run_worker`: a service's background process (its outbox relays and its consumers) in one call.

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
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import aio_pika
import structlog

from codex_bus.bus import Bus
from codex_bus.consumer import Consumer
from codex_bus.relay import OutboxRelay

__all__ = ["connect_patiently", "run_worker"]

_log = structlog.stdlib.get_logger("codex_bus")


async def run_worker(
    bus: Bus,
    *,
    relays: Sequence[OutboxRelay] = (),
    consumers: Sequence[Consumer] = (),
    tasks: Mapping[str, Callable[[], Coroutine[Any, Any, None]]] | None = None,
    max_connect_delay_s: float = 30.0,
) -> None:
    """Connect `bus` (waiting for the broker as long as it takes), start `relays` and `consumers`,
    and run until cancelled (`ServiceCli` cancels on SIGTERM/SIGINT); then stop them and close `bus`.

    A broker that is down at start is waited for rather than fatal: meanwhile the service's HTTP
    side keeps committing events to its outbox, and they are published once the broker answers.
    Make `relays` and `consumers` on `bus` before calling (neither touches the connection until
    started). The pools behind the relays stay the caller's to close. `tasks` are the service's own
    background loops by name (a sweeper, a reconciler), started once the bus is connected; one that
    ends or raises ends the worker with it (raising), so that a supervisor restarts it.
    """
    await connect_patiently(bus, max_delay_s=max_connect_delay_s)
    parts: list[OutboxRelay | Consumer] = [*relays, *consumers]
    started: list[OutboxRelay | Consumer] = []
    try:
        for part in parts:
            await part.start()
            started.append(part)
        _log.info(
            "worker_started",
            schemas=[relay.schema for relay in relays],
            queues=[consumer.queue for consumer in consumers],
        )
        running = [asyncio.create_task(make(), name=name) for name, make in (tasks or {}).items()]
        try:
            if not running:
                await asyncio.Event().wait()
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                _log.error("worker_task_ended", task=task.get_name(), error_type=type(error).__name__)
                raise RuntimeError(f"worker task {task.get_name()!r} ended") from error
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
    finally:
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
