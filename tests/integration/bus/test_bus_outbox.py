"""Items 5 and 6 of the bus issue: the transactional outbox and its relay, and the inbox."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest
from bus_support import Recorder, archived, eventually, published
from prometheus_client import REGISTRY

from codex_bus import Bus, ConsumerSettings, Inbox, MessageBatch, Outbox, OutboxRelay, subscribe
from codex_contracts import decode_envelope
from codex_contracts.events import ContentArchivedV1

FAST = ConsumerSettings(max_batch_timeout=0.1, max_batch_size=50)


async def test_events_commit_or_roll_back_with_the_change(bus_pool: asyncpg.Pool) -> None:
    outbox = Outbox(source="catalog")
    async with bus_pool.acquire() as conn:
        await conn.execute("CREATE TABLE content (id text PRIMARY KEY)")
        with pytest.raises(RuntimeError, match="boom"):
            async with conn.transaction():
                await conn.execute("INSERT INTO content VALUES ('lost')")
                await outbox.add(conn, archived("lost"))
                raise RuntimeError("boom")
        async with conn.transaction():
            await conn.execute("INSERT INTO content VALUES ('kept')")
            envelope = await outbox.add(conn, archived("kept"))
        rows = await conn.fetch("SELECT message_id, event_type, sent_at FROM outbox")
    assert [(r["message_id"], r["event_type"], r["sent_at"]) for r in rows] == [
        (envelope.id, "catalog.content.archived.v1", None)
    ]


async def test_add_batch_carries_one_correlation_id(bus_pool: asyncpg.Pool) -> None:
    async with bus_pool.acquire() as conn, conn.transaction():
        envelopes = await Outbox(source="catalog").add_batch(
            conn, [archived("a"), archived("b")], correlation_id="req-9"
        )
        bodies = [r["body"] for r in await conn.fetch("SELECT body FROM outbox ORDER BY seq")]
    assert {e.correlation_id for e in envelopes} == {"req-9"}
    assert [decode_envelope(b).correlation_id for b in bodies] == ["req-9", "req-9"]


async def test_adding_outside_a_transaction_is_refused(bus_pool: asyncpg.Pool) -> None:
    async with bus_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await Outbox(source="catalog").add(conn, archived())


async def test_the_relay_publishes_marks_sent_and_wakes_on_notify(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    # A poll interval far longer than the test: only NOTIFY can explain a prompt delivery.
    relay = OutboxRelay(bus_pool, bus, poll_interval=60)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        await relay.start()
        try:
            await asyncio.sleep(0.3)  # the relay is listening
            started = time.monotonic()
            async with bus_pool.acquire() as conn, conn.transaction():
                envelopes = await Outbox(source="catalog").add_batch(
                    conn, [archived(f"c{i}") for i in range(20)]
                )
            deliveries = await recorder.wait_for(20)
            assert max(d.at for d in deliveries) - started < 2.0
            async with bus_pool.acquire() as conn:
                await eventually(lambda: _unsent(conn, 0))
            stats = await relay.stats()
        finally:
            await relay.stop()
    assert sorted(d.id for d in deliveries) == sorted(e.id for e in envelopes)
    assert stats.backlog == 0 and stats.oldest_age_seconds == 0
    assert REGISTRY.get_sample_value("codex_bus_outbox_backlog", {"schema": relay.schema}) == 0


async def test_the_relay_polls_when_no_notification_comes(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    relay = OutboxRelay(bus_pool, bus, poll_interval=0.5)
    async with bus_pool.acquire() as conn:
        await conn.execute("ALTER TABLE outbox DISABLE TRIGGER outbox_notify")
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        await relay.start()
        try:
            await asyncio.sleep(0.2)
            async with bus_pool.acquire() as conn, conn.transaction():
                await Outbox(source="catalog").add(conn, archived("polled"))
            await recorder.wait_for(1, timeout=5)
        finally:
            await relay.stop()


async def test_several_relays_publish_each_row_once(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    relays = [OutboxRelay(bus_pool, bus, batch_size=25, poll_interval=0.2) for _ in range(3)]
    async with bus_pool.acquire() as conn, conn.transaction():
        envelopes = await Outbox(source="catalog").add_batch(conn, [archived(f"c{i}") for i in range(600)])
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        await asyncio.gather(*(r.start() for r in relays))
        try:
            await recorder.wait_for(600, timeout=30)
            await asyncio.sleep(0.5)
        finally:
            await asyncio.gather(*(r.stop() for r in relays))
    counts = Counter(d.id for d in recorder.deliveries)
    assert set(counts) == {e.id for e in envelopes}
    assert set(counts.values()) == {1}


async def test_a_row_that_cannot_be_routed_waits_and_the_rest_go_out(
    bus: Bus, bus_pool: asyncpg.Pool
) -> None:
    recorder = Recorder()
    relay = OutboxRelay(bus_pool, bus, poll_interval=0.2)
    unrouted = published("p")
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        async with bus_pool.acquire() as conn, conn.transaction():
            await Outbox(source="catalog").add_batch(conn, [archived("a"), unrouted, archived("b")])
        await relay.start()
        try:
            await recorder.wait_for(2)
            async with bus_pool.acquire() as conn:
                await eventually(lambda: _unsent(conn, 1))
                row = await conn.fetchrow(
                    "SELECT attempts, last_error, available_at > now() AS later FROM outbox"
                    " WHERE sent_at IS NULL"
                )
            stats = await relay.stats()
        finally:
            await relay.stop()
    assert row is not None and row["attempts"] >= 1 and row["later"]
    assert "catalog.content.published.v1" in row["last_error"]
    assert stats.backlog == 1 and stats.oldest_age_seconds > 0


async def test_a_delayed_outbox_event_arrives_after_its_delay(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    recorder = Recorder()
    relay = OutboxRelay(bus_pool, bus, poll_interval=0.2)
    async with bus.consumer(
        "catalog", [subscribe(ContentArchivedV1, recorder)], ConsumerSettings(max_batch_timeout=0)
    ):
        await relay.start()
        try:
            started = time.monotonic()
            async with bus_pool.acquire() as conn, conn.transaction():
                await Outbox(source="catalog").add(conn, archived("later"), delay_seconds=2)
            [delivery] = await recorder.wait_for(1)
        finally:
            await relay.stop()
    assert 1.9 <= delivery.at - started <= 3.5


async def test_cleanup_deletes_sent_rows_after_retention(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    relay = OutboxRelay(bus_pool, bus, retention=timedelta(seconds=0))
    await relay.start()
    await relay.stop()  # started only to know its schema; relay_once and cleanup are called directly
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, Recorder())], FAST):
        async with bus_pool.acquire() as conn, conn.transaction():
            await Outbox(source="catalog").add_batch(conn, [archived("a"), archived("b")])
        assert await relay.relay_once() == 2
        async with bus_pool.acquire() as conn, conn.transaction():
            await Outbox(source="catalog").add(conn, archived("pending"))
        assert await relay.cleanup() == 2
        async with bus_pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 1
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        kept = OutboxRelay(bus_pool, bus, retention=timedelta(hours=1))
        await kept.start()
        await kept.stop()
        assert await kept.relay_once() == 1
        assert await kept.cleanup() == 0


async def test_the_inbox_lets_a_message_take_effect_once(bus: Bus, bus_pool: asyncpg.Pool) -> None:
    inbox = Inbox("catalog.archive")
    failures = {"c2": 1}  # c2 fails once after writing its effect: the rollback must undo both

    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        for message in batch:
            async with bus_pool.acquire() as conn, inbox.transaction(conn, message) as fresh:
                if fresh:
                    await conn.execute("INSERT INTO effects VALUES ($1)", message.body.content_id)
                    if failures.get(message.body.content_id, 0) > 0:
                        failures[message.body.content_id] -= 1
                        raise RuntimeError("fails after its effect")

    async with bus_pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (content_id text)")
    recorder = Recorder(handle)
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST)
    async with consumer:
        producer = bus.producer(source="t")
        first = await producer.send(archived("c1"))
        await producer.send(archived("c2"))
        await recorder.wait_for(3)  # c1, c2, c2 retried
        # The same message again, as a redelivery or a replay would bring it.
        await producer.send_envelope(first)
        await recorder.wait_for(4)
        await asyncio.sleep(0.3)
    async with bus_pool.acquire() as conn:
        effects = Counter(r["content_id"] for r in await conn.fetch("SELECT content_id FROM effects"))
        assert await inbox.seen(conn, first.id)
        assert await inbox.prune(conn, timedelta(0)) == 2
    assert effects == {"c1": 1, "c2": 1}


async def test_concurrent_deliveries_of_one_message_get_one_fresh(bus_pool: asyncpg.Pool) -> None:
    inbox = Inbox("catalog.archive")
    gate = asyncio.Event()

    async def attempt() -> bool:
        async with bus_pool.acquire() as conn, inbox.transaction(conn, "same-id") as fresh:
            await gate.wait()
            return fresh

    tasks = [asyncio.create_task(attempt()) for _ in range(3)]
    await asyncio.sleep(0.3)
    gate.set()
    assert sorted(await asyncio.gather(*tasks)) == [False, False, True]


async def _unsent(conn: asyncpg.pool.PoolConnectionProxy, count: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == count)
