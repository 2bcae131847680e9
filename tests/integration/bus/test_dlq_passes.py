"""The rotation a dead-letter operation makes: one at a time, nothing lost, nothing changed."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest
from bus_support import queue_depth
from dlq_support import cli_here, declare, plant

from codex_bus import Bus, DeadLetterQueue
from codex_bus.dlq_scan import DeadLetterQueueBusy


async def test_a_second_operation_is_refused_while_one_runs(bus: Bus, queue_prefix: str) -> None:
    source = await declare(bus, f"{queue_prefix}catalog", quorum=True)
    name = await declare(bus, f"{queue_prefix}catalog.dlq")
    ids = [str(uuid.uuid4()) for _ in range(6)]
    await plant(bus, name, [{"message_id": i} for i in ids], source=source)
    dlq = DeadLetterQueue(bus, name, window=2)

    slow = asyncio.create_task(dlq.replay(all=True, rate=5))  # six at 5/s: a second and more
    await asyncio.sleep(0.4)
    with pytest.raises(DeadLetterQueueBusy):
        await DeadLetterQueue(bus, name).stats()
    head = await dlq.oldest()  # the gauges' peek still works beside a pass, and leaves it be
    assert head is None or head.message_id in ids
    report = await slow
    assert report.moved == 6
    assert await queue_depth(bus, source) == 6 and await queue_depth(bus, name) == 0


async def test_a_broker_dead_letter_reads_the_same_after_a_pass(bus: Bus, queue_prefix: str) -> None:
    """A message the broker dead-lettered itself carries its story in `x-death` alone, which a copy
    cannot keep (RabbitMQ 4 drops a client-set `x-death`): the pass writes it into our headers."""
    source = await declare(bus, f"{queue_prefix}catalog", quorum=True)
    name = await declare(bus, f"{queue_prefix}catalog.dlq")
    channel = await bus.connection.channel()
    try:
        # A classic queue that dead-letters expired messages into the DLQ, as the broker does.
        await channel.declare_queue(
            f"{queue_prefix}expiring",
            arguments={"x-message-ttl": 1, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
        )
        bus.declared.queues.add(f"{queue_prefix}expiring")
        message = aio_pika.Message(b'{"a": 1}', message_id="broker-1", type="catalog.content.archived.v1")
        await channel.default_exchange.publish(message, routing_key=f"{queue_prefix}expiring")
    finally:
        await channel.close()
    dlq = DeadLetterQueue(bus, name)
    for _ in range(50):
        if await dlq.count():
            break
        await asyncio.sleep(0.05)

    [before] = await dlq.browse()
    assert before.source_queue == f"{queue_prefix}expiring" and before.reason == "expired"
    [after] = await dlq.browse()  # the first browse rotated it: this reads the copy
    assert (after.message_id, after.source_queue, after.routing_key, after.reason) == (
        before.message_id,
        before.source_queue,
        before.routing_key,
        before.reason,
    )
    assert after.dead_lettered_at == before.dead_lettered_at and after.body == before.body
    assert "codex-dlq-pass" not in after.headers
    assert await queue_depth(bus, source) == 0


async def test_a_letter_whose_source_is_gone_stays_and_the_others_move(
    bus: Bus, amqp_url: str, queue_prefix: str
) -> None:
    source = await declare(bus, f"{queue_prefix}catalog", quorum=True)
    name = await declare(bus, f"{queue_prefix}catalog.dlq")
    ids = [str(uuid.uuid4()) for _ in range(4)]
    await plant(bus, name, [{"message_id": i} for i in ids[:3]], source=source)
    await plant(bus, name, [{"message_id": ids[3]}], source=f"{queue_prefix}deleted-service")

    run = await cli_here(amqp_url, "replay", name, "--all")
    assert run.status == 1
    assert "replayed 3" in run.out
    assert ids[3] in run.err and "not replayed" in run.err
    assert await queue_depth(bus, source) == 3
    [left] = await DeadLetterQueue(bus, name).browse()
    assert left.message_id == ids[3] and left.source_queue == f"{queue_prefix}deleted-service"
