"""run_worker: a service's relays and consumers, started together and stopped on cancellation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aio_pika
import asyncpg
import pytest
from bus_support import Recorder, archived, eventually
from prometheus_client import REGISTRY

from codex_bus import Bus, ConsumerSettings, Outbox, OutboxRelay, Topology, run_worker, subscribe
from codex_bus.worker import WorkerPartEnded
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


async def test_the_worker_ends_with_an_error_when_one_of_its_parts_ends(
    amqp_url: str, queue_prefix: str, bus_pool: asyncpg.Pool
) -> None:
    worker_bus = Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-worker")
    consumer = worker_bus.consumer("catalog", [subscribe(ContentArchivedV1, Recorder())], FAST)
    relay = OutboxRelay(bus_pool, worker_bus, poll_interval=0.2)
    worker = asyncio.create_task(run_worker(worker_bus, relays=[relay], consumers=[consumer]))
    try:
        await eventually(lambda: _part_is(f"consumer:{consumer.queue}", 1.0))
        relay_part = f"relay:{relay.schema}"
        assert REGISTRY.get_sample_value("codex_bus_worker_part_up", {"part": relay_part}) == 1.0
        relay._tasks[0].cancel()  # the relay loop ends, as an unexpected error used to end it
        with pytest.raises(WorkerPartEnded, match=relay_part):
            await asyncio.wait_for(worker, timeout=10)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await _delete_queues(worker_bus)
    assert REGISTRY.get_sample_value("codex_bus_worker_part_up", {"part": relay_part}) == 0.0
    assert (
        REGISTRY.get_sample_value("codex_bus_worker_part_up", {"part": f"consumer:{consumer.queue}"}) == 0.0
    )
    with pytest.raises(RuntimeError, match="not connected"):
        worker_bus.connection  # noqa: B018  the rest was stopped and the bus closed


async def test_the_worker_prunes_inboxes_past_their_retention(
    amqp_url: str, queue_prefix: str, bus_pool: asyncpg.Pool
) -> None:
    async with bus_pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, message_id, handled_at) VALUES "
            "('catalog.access', 'old', now() - interval '15 days'), "
            "('catalog.other', 'older', now() - interval '40 days'), "
            "('catalog.access', 'recent', now() - interval '13 days'), "
            "('catalog.access', 'today', now())"
        )
    worker_bus = Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-worker")
    worker = asyncio.create_task(run_worker(worker_bus, relays=[OutboxRelay(bus_pool, worker_bus)]))
    try:
        await eventually(lambda: _inbox_is(bus_pool, {"recent", "today"}))
        assert not worker.done()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_the_retention_is_the_worker_s_setting(
    amqp_url: str, queue_prefix: str, bus_pool: asyncpg.Pool
) -> None:
    async with bus_pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO inbox (consumer, message_id, handled_at) VALUES "
            "('c', 'two-hours', now() - interval '2 hours'), ('c', 'now', now())"
        )
    worker_bus = Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-worker")
    worker = asyncio.create_task(
        run_worker(worker_bus, inbox_pools=[bus_pool], inbox_retention=timedelta(hours=1))
    )
    try:
        await eventually(lambda: _inbox_is(bus_pool, {"now"}))
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def _inbox_is(pool: asyncpg.Pool, ids: set[str]) -> bool:
    async with pool.acquire() as conn:
        return {r["message_id"] for r in await conn.fetch("SELECT message_id FROM inbox")} == ids


async def _part_is(part: str, value: float) -> bool:
    return REGISTRY.get_sample_value("codex_bus_worker_part_up", {"part": part}) == value


async def _delete_queues(bus: Bus) -> None:
    probe = Bus(bus.url, name="test-cleanup", declare_exchanges=False)
    async with probe:
        channel = await probe.connection.channel()
        for queue in bus.declared.queues:
            await channel.queue_delete(queue)
        await channel.close()


async def test_a_service_task_that_raises_ends_the_worker(amqp_url: str, queue_prefix: str) -> None:
    async def reconcile() -> None:
        raise ConnectionResetError("the reconciler's API went away")

    worker_bus = Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-worker")
    with pytest.raises(WorkerPartEnded, match="task:reconciler") as ended:
        await asyncio.wait_for(run_worker(worker_bus, tasks={"reconciler": reconcile}), timeout=10)
    assert isinstance(ended.value.__cause__, ConnectionResetError)
    assert await _part_is("task:reconciler", 0.0)
