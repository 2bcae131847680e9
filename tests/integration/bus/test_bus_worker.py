"""run_worker: a service's relays and consumers, started together and stopped on cancellation."""

from __future__ import annotations

import asyncio

import aio_pika
import asyncpg
import pytest
from bus_support import Recorder, archived, eventually

from codex_bus import Bus, ConsumerSettings, Outbox, OutboxRelay, Topology, run_worker, subscribe
from codex_contracts.events import ContentArchivedV1

FAST = ConsumerSettings(max_batch_timeout=0.1)


async def consumers_of(probe: Bus, queue: str) -> int | None:
    """How many consumers `queue` has, or None while it does not exist."""
    channel = await probe.connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None
    count = declared.declaration_result.consumer_count
    await channel.close()
    return count


async def test_the_worker_relays_and_consumes_until_cancelled(
    amqp_url: str, queue_prefix: str, bus_pool: asyncpg.Pool, bus: Bus
) -> None:
    recorder = Recorder()
    worker_bus = Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-worker")
    consumer = worker_bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST)
    relays = [OutboxRelay(bus_pool, worker_bus, poll_interval=0.2)]
    worker = asyncio.create_task(run_worker(worker_bus, relays=relays, consumers=[consumer]))
    try:
        await eventually(lambda: _has_consumers(bus, consumer.queue))
        async with bus_pool.acquire() as conn, conn.transaction():
            envelope = await Outbox(source="catalog").add(conn, archived("c1"))
        deliveries = await recorder.wait_for(1)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    try:
        assert [(d.id, d.content_id) for d in deliveries] == [(envelope.id, "c1")]
        assert worker.cancelled()
        assert await consumers_of(bus, consumer.queue) == 0  # the consumer was stopped...
        with pytest.raises(RuntimeError, match="not connected"):
            worker_bus.connection  # noqa: B018  ...and the bus closed
    finally:
        channel = await bus.connection.channel()
        for queue in worker_bus.declared.queues:
            await channel.queue_delete(queue)
        await channel.close()


async def _has_consumers(probe: Bus, queue: str) -> bool:
    return bool(await consumers_of(probe, queue))
