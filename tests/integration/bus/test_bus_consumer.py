"""Item 2 of the bus issue: the consumer, one rule per test, against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from bus_support import Recorder, archived, depth_is, eventually, fail_by_kind, published, queue_depth
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from codex_bus import Bus, ConsumerSettings, DeadLetterQueue, MessageBatch, subscribe
from codex_contracts import encode_envelope, new_envelope
from codex_contracts.events import ContentArchivedV1

TYPE = ContentArchivedV1.type_name
FAST = ConsumerSettings(max_batch_timeout=0.2)


async def test_batches_hold_at_most_max_batch_size(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_size=10, max_batch_timeout=1)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings)
    await consumer.start()
    await consumer.stop()  # declared and bound, nothing consumed yet: let 25 wait in the queue
    await bus.producer(source="t").send_batch([archived(f"c{i}") for i in range(25)])
    async with consumer:
        await recorder.wait_for(25)
    assert sorted(recorder.batches) == [5, 10, 10]


async def test_a_partial_batch_goes_out_after_max_batch_timeout(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_size=10, max_batch_timeout=1)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        sent = time.monotonic()
        await bus.producer(source="t").send_batch([archived("a"), archived("b"), archived("c")])
        deliveries = await recorder.wait_for(3)
    assert recorder.batches == [3]
    assert 0.9 <= deliveries[0].at - sent <= 2.0


async def test_a_message_has_id_timestamp_body_and_attempts(bus: Bus) -> None:
    seen: list[tuple[str, object, object, int]] = []

    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        seen.extend((m.id, m.timestamp, m.body, m.attempts) for m in batch)

    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, handle)], FAST):
        event = archived("c-7")
        envelope = await bus.producer(source="t").send(event)
        await eventually(lambda: _true(bool(seen)))
    assert seen == [(envelope.id, envelope.time, event, 1)]


async def test_returning_acks_every_message(bus: Bus) -> None:
    recorder = Recorder()
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST)
    async with consumer:
        await bus.producer(source="t").send_batch([archived(f"c{i}") for i in range(5)])
        await recorder.wait_for(5)
        await asyncio.sleep(0.5)
    # Stopped: anything unacked would be back in the queue now.
    assert await queue_depth(bus, consumer.queue) == 0
    assert await queue_depth(bus, consumer.dead_letter_queue) == 0
    assert len(recorder.deliveries) == 5


async def test_raising_retries_the_batch_except_messages_already_acked_or_retried(bus: Bus) -> None:
    async def policy(batch: MessageBatch[ContentArchivedV1]) -> None:
        if batch.messages[0].attempts > 1:
            return
        by_id = {m.body.content_id: m for m in batch}
        by_id["acked"].ack()
        by_id["retried"].retry()
        raise RuntimeError("the database went away")

    recorder = Recorder(policy)
    settings = ConsumerSettings(max_batch_size=4, max_batch_timeout=1)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        await bus.producer(source="t").send_batch(
            [archived("acked"), archived("retried"), archived("plain-1"), archived("plain-2")]
        )
        await recorder.wait_for(7)
        await asyncio.sleep(0.5)
    counts = Counter(d.content_id for d in recorder.deliveries)
    assert counts == {"acked": 1, "retried": 2, "plain-1": 2, "plain-2": 2}
    assert {d.attempts for d in recorder.deliveries if d.content_id != "acked"} == {1, 2}


async def test_the_first_call_on_a_message_wins(bus: Bus) -> None:
    async def policy(batch: MessageBatch[ContentArchivedV1]) -> None:
        for m in batch:
            if m.body.content_id == "ack-then-retry":
                m.ack()
                m.retry()
            elif m.attempts == 1:
                m.retry()
                m.ack()

    recorder = Recorder(policy)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        await bus.producer(source="t").send_batch([archived("ack-then-retry"), archived("retry-then-ack")])
        await recorder.wait_for(3)
        await asyncio.sleep(0.5)
    assert Counter(d.content_id for d in recorder.deliveries) == {"ack-then-retry": 1, "retry-then-ack": 2}


async def test_a_call_on_a_message_overrides_ack_all_and_retry_all(bus: Bus) -> None:
    async def policy(batch: MessageBatch[ContentArchivedV1]) -> None:
        by_id = {m.body.content_id: m for m in batch}
        if len(batch) == 3:  # first round
            batch.retry_all()
            by_id["a"].ack()  # after retry_all, still wins for "a"
            batch.ack_all()  # ignored: retry_all came first
        elif "b" in by_id and by_id["b"].attempts == 2:
            by_id["b"].retry()
            batch.ack_all()  # acks "c", not "b"

    recorder = Recorder(policy)
    settings = ConsumerSettings(max_batch_size=3, max_batch_timeout=1)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        await bus.producer(source="t").send_batch([archived("a"), archived("b"), archived("c")])
        await recorder.wait_for(6)
        await asyncio.sleep(0.5)
    assert Counter(d.content_id for d in recorder.deliveries) == {"a": 1, "b": 3, "c": 2}


async def test_after_max_retries_a_message_is_dead_lettered_with_its_failure(bus: Bus) -> None:
    async def fail(batch: MessageBatch[ContentArchivedV1]) -> None:
        raise ValueError(f"cannot archive {batch.messages[0].body.content_id}")

    recorder = Recorder(fail)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST)  # max_retries 3
    assert consumer.settings.max_retries == 3
    before = REGISTRY.get_sample_value(
        "codex_bus_dead_lettered_total", _labels(consumer.queue, "max_retries")
    )
    with capture_logs() as logs:
        async with consumer:
            envelope = await bus.producer(source="t").send(archived("doomed"))
            await recorder.wait_for(4)
            await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 1))
            await asyncio.sleep(0.3)
    assert [d.attempts for d in recorder.deliveries] == [1, 2, 3, 4]

    [letter] = await DeadLetterQueue(bus, consumer.dead_letter_queue).browse()
    assert letter.message_id == envelope.id
    assert letter.body == encode_envelope(envelope)
    assert letter.error_type == "ValueError"
    assert letter.error_message == "cannot archive doomed"
    assert letter.error_location.startswith("test_bus_consumer:")
    assert letter.attempts == 4
    assert letter.source_queue == consumer.queue
    assert letter.routing_key == TYPE
    assert letter.reason == "max_retries"
    assert letter.first_failure_at and letter.last_failure_at and letter.dead_lettered_at
    assert letter.first_failure_at < letter.last_failure_at <= letter.dead_lettered_at
    assert len(letter.fingerprint) == 16

    retried = [e for e in logs if e["event"] == "bus.message_retried"]
    dead = [e for e in logs if e["event"] == "bus.message_dead_lettered"]
    assert [e["attempts"] for e in retried] == [1, 2, 3]
    assert retried[0]["message_id"] == envelope.id and retried[0]["type"] == TYPE
    assert retried[0]["error"] == "cannot archive doomed"
    assert dead[0]["attempts"] == 4 and dead[0]["fingerprint"] == letter.fingerprint
    after = REGISTRY.get_sample_value("codex_bus_dead_lettered_total", _labels(consumer.queue, "max_retries"))
    assert (after or 0) - (before or 0) == 1


async def test_failures_of_one_cause_share_a_fingerprint(bus: Bus) -> None:
    settings = ConsumerSettings(max_batch_timeout=0.2, max_retries=0)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, Recorder(fail_by_kind))], settings)
    async with consumer:
        await bus.producer(source="t").send_batch([archived("key-1"), archived("key-2"), archived("value-1")])
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 3))
    letters = await DeadLetterQueue(bus, consumer.dead_letter_queue).browse()
    prints = {d.error_message.strip("'"): d.fingerprint for d in letters}
    assert prints["key-1"] == prints["key-2"] != prints["value-1"]
    assert {d.error_type for d in letters} == {"KeyError", "ValueError"}
    assert {d.attempts for d in letters} == {1}


async def test_retry_delay_and_a_delay_named_by_retry_are_honoured(bus: Bus) -> None:
    async def policy(batch: MessageBatch[ContentArchivedV1]) -> None:
        for m in batch:
            if m.attempts == 1:
                m.retry(delay_seconds=2) if m.body.content_id == "named" else m.retry()

    recorder = Recorder(policy)
    settings = ConsumerSettings(max_batch_timeout=0, retry_delay=1)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        await bus.producer(source="t").send_batch([archived("default"), archived("named")])
        await recorder.wait_for(4)
    times: dict[str, list[float]] = {}
    for d in recorder.deliveries:
        times.setdefault(d.content_id, []).append(d.at)
    assert 0.9 <= times["default"][1] - times["default"][0] <= 2.0
    assert 1.9 <= times["named"][1] - times["named"][0] <= 3.0


async def test_an_undecodable_body_is_dead_lettered_at_once(bus: Bus) -> None:
    recorder = Recorder()
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST)
    unknown_version = encode_envelope(new_envelope(archived("v9"), source="t")).replace(
        b'"type":"catalog.content.archived.v1"', b'"type":"catalog.content.archived.v9"'
    )
    async with consumer:
        for body, message_id in (
            (b"not json at all", "garbage"),
            (unknown_version, "v9"),
            (b'{"id": 1}', "bad"),
        ):
            await bus.publisher.publish(
                body, exchange=bus.topology.events_exchange, routing_key=TYPE, message_id=message_id
            )
        await bus.producer(source="t").send(archived("fine"))
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 3))
        await recorder.wait_for(1)
    assert [d.content_id for d in recorder.deliveries] == ["fine"]
    letters = {d.message_id: d for d in await DeadLetterQueue(bus, consumer.dead_letter_queue).browse()}
    assert letters["garbage"].error_type == "msgspec.DecodeError"
    assert letters["v9"].error_type == "codex_contracts.base.UnknownContractType"
    assert "catalog.content.archived.v9" in letters["v9"].error_message
    assert letters["bad"].error_type == "msgspec.ValidationError"
    assert {d.reason for d in letters.values()} == {"undecodable"}
    assert {d.attempts for d in letters.values()} == {1}
    assert letters["garbage"].body == b"not json at all"


async def test_a_retry_reaches_only_the_queue_that_asked_for_it(bus: Bus) -> None:
    async def retry_once(batch: MessageBatch[ContentArchivedV1]) -> None:
        if batch.messages[0].attempts == 1:
            batch.retry_all()

    retrying, acking = Recorder(retry_once), Recorder()
    async with (
        bus.consumer("svc-a", [subscribe(ContentArchivedV1, retrying)], FAST),
        bus.consumer("svc-b", [subscribe(ContentArchivedV1, acking)], FAST),
    ):
        await bus.producer(source="t").send(archived("shared"))
        await retrying.wait_for(2)
        await asyncio.sleep(1.0)
    assert len(acking.deliveries) == 1
    assert len(retrying.deliveries) == 2


async def test_dead_letter_queue_and_max_retries_can_be_set(bus: Bus) -> None:
    async def fail(batch: MessageBatch[ContentArchivedV1]) -> None:
        raise RuntimeError("no")

    recorder = Recorder(fail)
    settings = ConsumerSettings(max_batch_timeout=0.2, max_retries=1, dead_letter_queue="catalog-failures")
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings)
    assert consumer.dead_letter_queue == bus.topology.queue("catalog-failures")
    async with consumer:
        await bus.producer(source="t").send(archived())
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 1))
    assert [d.attempts for d in recorder.deliveries] == [1, 2]


async def test_a_message_redelivered_past_its_attempts_is_dead_lettered_unhandled(bus: Bus) -> None:
    recorder = Recorder()
    settings = ConsumerSettings(max_batch_timeout=0.2, max_retries=2)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings)
    envelope = new_envelope(archived(), source="t")
    async with consumer:
        # As if it had been delivered 3 times already and then killed its consumer.
        await bus.publisher.publish(
            encode_envelope(envelope),
            exchange="",
            routing_key=consumer.queue,
            message_id=envelope.id,
            headers={"codex-attempts": 4},
        )
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, 1))
    assert recorder.deliveries == []
    [letter] = await DeadLetterQueue(bus, consumer.dead_letter_queue).browse()
    assert letter.reason == "redelivered"


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_max_concurrency_bounds_batches_in_flight(bus: Bus, concurrency: int) -> None:
    running, peak = 0, 0

    async def slow(batch: MessageBatch[ContentArchivedV1]) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.3)
        running -= 1

    recorder = Recorder(slow)
    settings = ConsumerSettings(max_batch_size=1, max_batch_timeout=0, max_concurrency=concurrency)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], settings):
        await bus.producer(source="t").send_batch([archived(f"c{i}") for i in range(6)])
        await recorder.wait_for(6)
        await asyncio.sleep(0.4)
    assert peak == concurrency


async def test_handlers_receive_only_their_type(bus: Bus) -> None:
    from codex_contracts.events import ContentPublishedV1

    archived_seen, published_seen = Recorder(), []

    async def on_published(batch: MessageBatch[ContentPublishedV1]) -> None:
        published_seen.extend(m.body.content_id for m in batch)

    table = [subscribe(ContentArchivedV1, archived_seen), subscribe(ContentPublishedV1, on_published)]
    async with bus.consumer("catalog", table, ConsumerSettings(max_batch_timeout=0.5)):
        await bus.producer(source="t").send_batch([archived("a1"), published("p1")])
        await archived_seen.wait_for(1)
        await eventually(lambda: _true(bool(published_seen)))
    assert [d.content_id for d in archived_seen.deliveries] == ["a1"]
    assert published_seen == ["p1"]


def _labels(queue: str, reason: str) -> dict[str, str]:
    return {"queue": queue, "type": TYPE, "reason": reason}


async def _true(value: bool) -> bool:
    return value
