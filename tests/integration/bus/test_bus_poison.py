"""Defects 2 and 5 of the faults issue: a poison message is dead-lettered alone at once, quorum
queues carry an explicit delivery limit, and a delayed event that no queue takes is parked."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from bus_support import Recorder, archived, depth_is, eventually, published, queue_depth
from structlog.testing import capture_logs

from codex_bus import Bus, ConsumerSettings, MessageBatch, subscribe
from codex_bus import headers as h
from codex_bus.topology import Topology
from codex_contracts import encode_envelope, new_envelope
from codex_contracts.events import ContentArchivedV1

TYPE = ContentArchivedV1.type_name


def invalid_utf8_body() -> bytes:
    """A well-formed envelope whose content id holds bytes that are not UTF-8."""
    body = encode_envelope(new_envelope(archived("POISON"), source="t"))
    return body.replace(b"POISON", b"\xff\xfe")


async def take_all(bus: Bus, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    channel = await bus.connection.channel()
    taken = []
    try:
        amqp_queue = await channel.get_queue(queue)
        while (message := await amqp_queue.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
    finally:
        await channel.close()
    return taken


async def test_invalid_utf8_is_dead_lettered_alone_and_its_batch_mates_are_handled_once(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_size=10, max_batch_timeout=0.5)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings)
    await consumer.start()
    await consumer.stop()  # declared: the three below wait in the queue and come as one batch
    producer = bus.producer(source="t")
    await producer.send(archived("before"))
    await bus.publisher.publish(
        invalid_utf8_body(), exchange=bus.topology.events_exchange, routing_key=TYPE, message_id="poison"
    )
    await producer.send(archived("after"))
    async with consumer:
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 1))
        await recorder.wait_for(2)
        await asyncio.sleep(1.0)  # a looping batch would come back within this
    assert recorder.batches == [2]
    assert sorted((d.content_id, d.attempts) for d in recorder.deliveries) == [("after", 1), ("before", 1)]
    [letter] = await take_all(bus, consumer.dead_letter_queue)
    assert letter.message_id == "poison"
    assert letter.headers[h.REASON] == "undecodable"
    assert letter.headers[h.ERROR_TYPE] == "UnicodeDecodeError"
    assert await queue_depth(bus, consumer.queue) == 0


async def test_consuming_queues_carry_an_explicit_delivery_limit(bus: Bus) -> None:
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, Recorder())])
    await consumer.start()
    await consumer.stop()
    # The broker refuses a declaration whose arguments differ: one without the limit fails.
    channel = await bus.connection.channel()
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed, match="x-delivery-limit"):
        await channel.declare_queue(
            consumer.queue,
            durable=True,
            arguments=Topology.queue_arguments(consumer.dead_letter_queue, delivery_limit=None),
        )


async def test_a_queue_made_before_the_limit_is_still_consumed(bus: Bus) -> None:
    recorder = Recorder()
    consumer = bus.consumer(
        "catalog", [subscribe(ContentArchivedV1, recorder)], ConsumerSettings(max_batch_timeout=0)
    )
    channel = await bus.connection.channel()
    await bus.topology.declare_queue(
        channel,
        consumer.queue,
        dead_letter_queue=consumer.dead_letter_queue,
        names=bus.declared,
        delivery_limit=None,
    )
    await channel.close()
    with capture_logs() as logs:
        async with consumer:
            await bus.producer(source="t").send(archived("old-queue"))
            await recorder.wait_for(1)
    assert [e["queue"] for e in logs if e["event"] == "bus.queue_without_delivery_limit"] == [consumer.queue]


async def test_a_delayed_event_that_no_queue_takes_when_due_is_parked_not_dropped(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_timeout=0)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        producer = bus.producer(source="t")
        orphan = await producer.send(published("nobody-takes-me"), delay_seconds=1)
        await producer.send(archived("taken"), delay_seconds=1)
        await recorder.wait_for(1)
        await eventually(lambda: depth_is(bus, bus.topology.unrouted, 1), timeout=10)
    [parked] = await take_all(bus, bus.topology.unrouted)
    assert parked.message_id == orphan.id
    assert parked.routing_key == published().type_name
    assert [d.content_id for d in recorder.deliveries] == ["taken"]


async def delete_queue(bus: Bus, name: str) -> None:
    channel = await bus.connection.channel()
    await channel.queue_delete(name)
    await channel.close()


async def holds(bus: Bus, queue: str, count: int) -> bool:
    """Whether `queue` exists and holds `count` messages."""
    try:
        return await depth_is(bus, queue, count)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False


async def test_a_dead_letter_queue_deleted_while_consuming_is_declared_again(bus: Bus) -> None:
    consumer = bus.consumer(
        "catalog", [subscribe(ContentArchivedV1, Recorder())], ConsumerSettings(max_batch_timeout=0)
    )
    async with consumer:
        await delete_queue(bus, consumer.dead_letter_queue)  # an operator's mistake
        await bus.publisher.publish(
            b"not json", exchange=bus.topology.events_exchange, routing_key=TYPE, message_id="poison"
        )
        await eventually(lambda: holds(bus, consumer.dead_letter_queue, 1), timeout=10)
    assert await queue_depth(bus, consumer.queue) == 0


async def test_a_delay_queue_deleted_since_its_declaration_is_declared_again(bus: Bus) -> None:
    async def retry_first_attempt(batch: MessageBatch[ContentArchivedV1]) -> None:
        for message in batch:
            if message.attempts == 1:
                message.retry(delay_seconds=1)

    recorder = Recorder(retry_first_attempt)
    consumer = bus.consumer(
        "catalog", [subscribe(ContentArchivedV1, recorder)], ConsumerSettings(max_batch_timeout=0)
    )
    producer = bus.producer(source="t")
    async with consumer:
        await producer.send(archived("first"))
        await recorder.wait_for(2)
        await delete_queue(bus, bus.topology.queue_delay_queue(consumer.queue, 1000))
        await producer.send(archived("second"))
        await recorder.wait_for(4, timeout=10)
    assert sorted((d.content_id, d.attempts) for d in recorder.deliveries) == [
        ("first", 1),
        ("first", 2),
        ("second", 1),
        ("second", 2),
    ]
    second = [d.at for d in recorder.deliveries if d.content_id == "second"]
    assert second[1] - second[0] >= 0.9  # went through the delay queue, not straight back
