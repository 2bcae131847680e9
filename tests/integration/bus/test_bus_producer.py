"""Item 1 of the bus issue: the producer, one rule per test, against the real RabbitMQ."""

from __future__ import annotations

import time

import aio_pika
import pytest
from bus_support import Recorder, archived, queue_depth

from codex_bus import (
    MAX_MESSAGE_BYTES,
    Bus,
    ConsumerSettings,
    InvalidDelay,
    MessageTooLarge,
    UnroutableMessage,
    subscribe,
)
from codex_contracts import decode_envelope
from codex_contracts.events import ContentArchivedV1


async def declare_service_queue(bus: Bus, name: str = "catalog") -> str:
    """Declare a consuming queue bound to ContentArchivedV1 without consuming from it."""
    consumer = bus.consumer(name, [subscribe(ContentArchivedV1, Recorder())])
    channel = await bus.connection.channel()
    await bus.topology.declare_queue(
        channel,
        consumer.queue,
        dead_letter_queue=consumer.dead_letter_queue,
        event_types=(ContentArchivedV1.type_name,),
        names=bus.declared,
    )
    await channel.close()
    return consumer.queue


async def take_one(bus: Bus, queue: str) -> aio_pika.abc.AbstractIncomingMessage:
    channel = await bus.connection.channel()
    amqp_queue = await channel.get_queue(queue)
    message = await amqp_queue.get(no_ack=True, fail=True)
    await channel.close()
    assert message is not None
    return message


async def test_send_is_confirmed_persistent_and_keeps_the_event_id(bus: Bus) -> None:
    queue = await declare_service_queue(bus)
    envelope = await bus.producer(source="catalog").send(archived("c-42"))
    # send() returned after the confirm: the message is in the queue already, no waiting.
    assert await queue_depth(bus, queue) == 1
    message = await take_one(bus, queue)
    assert message.message_id == envelope.id
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.routing_key == "catalog.content.archived.v1"
    assert message.type == "catalog.content.archived.v1"
    decoded = decode_envelope(message.body)
    assert decoded.data == envelope.data and decoded.source == "catalog"


async def test_send_batch_confirms_every_message(bus: Bus) -> None:
    queue = await declare_service_queue(bus)
    envelopes = await bus.producer(source="catalog").send_batch([archived(f"c{i}") for i in range(25)])
    assert len({e.id for e in envelopes}) == 25
    assert await queue_depth(bus, queue) == 25


async def test_unroutable_send_raises_instead_of_vanishing(bus: Bus) -> None:
    # No queue is bound to the type: the broker returns the mandatory message.
    with pytest.raises(UnroutableMessage, match=r"catalog\.content\.archived\.v1"):
        await bus.producer(source="catalog").send(archived())


async def test_send_to_a_missing_work_queue_raises(bus: Bus) -> None:
    with pytest.raises(UnroutableMessage, match="no-such-jobs"):
        await bus.producer(source="media", queue="no-such-jobs").send(archived())
    with pytest.raises(UnroutableMessage, match="no-such-jobs"):
        await bus.producer(source="media", queue="no-such-jobs").send(archived(), delay_seconds=5)


async def test_a_body_over_128_kb_raises_naming_the_limit(bus: Bus) -> None:
    queue = await declare_service_queue(bus)
    producer = bus.producer(source="catalog")
    with pytest.raises(MessageTooLarge, match=r"131072 bytes \(128 KB\)") as raised:
        await producer.send(archived(creator_id="x" * MAX_MESSAGE_BYTES))
    assert raised.value.size > MAX_MESSAGE_BYTES
    with pytest.raises(MessageTooLarge):
        await producer.send_batch([archived("small"), archived(creator_id="x" * MAX_MESSAGE_BYTES)])
    # Nothing of the refused batch went out; a body just under the limit does.
    assert await queue_depth(bus, queue) == 0
    await producer.send(archived(creator_id="x" * (MAX_MESSAGE_BYTES - 400)))
    assert await queue_depth(bus, queue) == 1


@pytest.mark.parametrize("delay", [-1, 43201, 1.5, True])
async def test_delay_outside_0_to_43200_whole_seconds_is_refused(bus: Bus, delay: object) -> None:
    producer = bus.producer(source="catalog")
    with pytest.raises(InvalidDelay):
        await producer.send(archived(), delay_seconds=delay)  # type: ignore[arg-type]
    with pytest.raises(InvalidDelay):
        await producer.send_batch([archived()], delay_seconds=delay)  # type: ignore[arg-type]


async def test_delayed_send_arrives_after_the_delay(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_timeout=0)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        producer = bus.producer(source="catalog")
        sent_at = time.monotonic()
        await producer.send_batch([archived("late-1"), archived("late-2")], delay_seconds=2)
        await producer.send(archived("now"))
        deliveries = await recorder.wait_for(3)
    by_content = {d.content_id: d.at - sent_at for d in deliveries}
    assert by_content["now"] < 1.0
    for late in ("late-1", "late-2"):
        assert 1.9 <= by_content[late] <= 3.5, by_content


async def test_delayed_send_to_a_work_queue(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_timeout=0)
    async with bus.consumer("transcode-jobs", [subscribe(ContentArchivedV1, recorder)], settings, bind=False):
        producer = bus.producer(source="media", queue="transcode-jobs")
        sent_at = time.monotonic()
        await producer.send(archived("job"), delay_seconds=1)
        [delivery] = await recorder.wait_for(1)
    assert 0.9 <= delivery.at - sent_at <= 2.5


async def test_send_batch_carries_one_correlation_id(bus: Bus) -> None:
    queue = await declare_service_queue(bus)
    envelopes = await bus.producer(source="catalog").send_batch(
        [archived("a"), archived("b")], correlation_id="req-7"
    )
    assert {e.correlation_id for e in envelopes} == {"req-7"}
    assert decode_envelope((await take_one(bus, queue)).body).correlation_id == "req-7"
