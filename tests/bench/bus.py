"""Benchmark of the bus (`make bench`): figures measured in one run on this machine, not a test.

1. Throughput of publish (with confirms) + consume + ack of 20,000 events of 1 KB, through the bus
   (Producer.send_batch, Consumer with a no-op handler) beside raw aio-pika doing the same: same
   quorum queue type, same prefetch, same confirms, same 100-message publish windows.
2. The outbox relay: rows drained per second, and commit-to-publish latency p50/p99 while a writer
   commits one event per transaction at a steady rate.

Environment: AMQP_URL, DATABASE_URL (defaults: the local services).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg

from codex_bus import (
    BUS_MIGRATIONS,
    Bus,
    ConsumerSettings,
    MessageBatch,
    Outbox,
    OutboxRelay,
    Topology,
    subscribe,
)
from codex_contracts import encode_envelope, new_envelope
from codex_contracts.events import ContentUpdatedV1
from codex_platform.db import create_pool, migrate, quote_ident

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

EVENTS = 20_000
WINDOW = 100  # messages published together before waiting for their confirms
BATCH = 100  # consumer batch size; prefetch = BATCH * (concurrency + 1)
SETTINGS = ConsumerSettings(max_batch_size=BATCH, max_batch_timeout=0.05, max_concurrency=1)
ROUNDS = 5


def event_of_1kb(i: int) -> ContentUpdatedV1:
    base = ContentUpdatedV1(
        content_id=f"c{i}",
        creator_id="u1",
        title="A title",
        description="",
        price_cents=499,
        currency="eur",
        status="ready",
        updated_at=datetime.now(UTC),
    )
    size = len(encode_envelope(new_envelope(base, source="bench")))
    return ContentUpdatedV1(
        content_id=f"c{i}",
        creator_id="u1",
        title="A title",
        description="x" * (1024 - size),
        price_cents=499,
        currency="eur",
        status="ready",
        updated_at=datetime.now(UTC),
    )


async def run_bus(prefix: str) -> float:
    events = [event_of_1kb(i) for i in range(EVENTS)]
    done = asyncio.Event()
    seen = 0

    async def handle(batch: MessageBatch[ContentUpdatedV1]) -> None:
        nonlocal seen
        seen += len(batch)
        if seen >= EVENTS:
            done.set()

    async with Bus(AMQP_URL, topology=Topology(prefix=prefix), name="bench-bus") as bus:
        consumer = bus.consumer("bench", [subscribe(ContentUpdatedV1, handle)], SETTINGS)
        async with consumer:
            producer = bus.producer(source="bench")
            started = time.perf_counter()
            for start in range(0, EVENTS, WINDOW):
                await producer.send_batch(events[start : start + WINDOW])
            await done.wait()
            elapsed = time.perf_counter() - started
        await _delete(bus.connection, sorted(bus.declared.queues), sorted(bus.declared.exchanges))
    return elapsed


async def run_raw(prefix: str) -> float:
    bodies = [encode_envelope(new_envelope(event_of_1kb(i), source="bench")) for i in range(EVENTS)]
    routing_key = ContentUpdatedV1.type_name
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=SETTINGS.prefetch)
        exchange = await publish_channel.declare_exchange(
            f"{prefix}raw", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await consume_channel.declare_queue(
            f"{prefix}raw.bench", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange.name, routing_key=routing_key)
        done = asyncio.Event()
        seen = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal seen
            await message.ack()
            seen += 1
            if seen >= EVENTS:
                done.set()

        await queue.consume(on_message)
        started = time.perf_counter()
        for start in range(0, EVENTS, WINDOW):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body,
                            message_id=str(uuid.uuid4()),
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            content_type="application/json",
                            type=routing_key,
                        ),
                        routing_key=routing_key,
                        mandatory=True,
                    )
                    for body in bodies[start : start + WINDOW]
                )
            )
        await done.wait()
        elapsed = time.perf_counter() - started
        await consume_channel.close()  # no consumer left for the broker to cancel on delete
        await _delete(connection, [queue.name], [exchange.name])
    return elapsed


async def run_relay(prefix: str, schema: str) -> tuple[float, float, float, int]:
    """(rows per second draining a backlog, p50 and p99 commit-to-publish latency in ms, rows timed)."""
    await migrate(DATABASE_URL, schema=schema, sources=[BUS_MIGRATIONS])
    pool = await create_pool(DATABASE_URL, schema=schema, max_size=6)
    outbox = Outbox(source="bench")
    try:
        async with Bus(AMQP_URL, topology=Topology(prefix=prefix), name="bench-relay") as bus:
            channel = await bus.connection.channel()
            await bus.topology.declare_queue(
                channel,
                bus.topology.queue("sink"),
                dead_letter_queue=bus.topology.queue("sink.dlq"),
                event_types=(ContentUpdatedV1.type_name,),
                names=bus.declared,
            )
            events = [event_of_1kb(i) for i in range(EVENTS)]
            async with pool.acquire() as conn:
                for start in range(0, EVENTS, 1000):
                    async with conn.transaction():
                        await outbox.add_batch(conn, events[start : start + 1000])
            relay = OutboxRelay(pool, bus, poll_interval=0.2)
            started = time.perf_counter()
            await relay.start()
            while (await relay.stats()).backlog:
                await asyncio.sleep(0.05)
            drained = EVENTS / (time.perf_counter() - started)
            async with pool.acquire() as conn:
                await conn.execute("TRUNCATE outbox")

            # Steady load: one event per transaction, 200 per second for 10 seconds.
            rate, seconds = 200, 10
            started = time.perf_counter()
            for i in range(rate * seconds):
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.add(conn, events[i])
                await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
            while (await relay.stats()).backlog:
                await asyncio.sleep(0.05)
            await relay.stop()
            async with pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), "
                    "percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), count(*) FROM "
                    "(SELECT extract(epoch FROM sent_at - created_at) * 1000 AS ms FROM outbox) AS t"
                )
            await channel.close()
            await _delete(bus.connection, sorted(bus.declared.queues), sorted(bus.declared.exchanges))
        assert row is not None
        return drained, row[0], row[1], row[2]
    finally:
        await pool.close()
        conn = await asyncpg.connect(DATABASE_URL)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.close()


async def _delete(
    connection: aio_pika.abc.AbstractConnection, queues: list[str], exchanges: list[str]
) -> None:
    channel = await connection.channel()
    for queue in queues:
        await channel.queue_delete(queue)
    for exchange in exchanges:
        await channel.exchange_delete(exchange)
    await channel.close()


async def main() -> int:
    tag = uuid.uuid4().hex[:8]
    print(
        f"bus benchmark: {EVENTS} events of 1 KB, publish windows of {WINDOW}, prefetch {SETTINGS.prefetch}, "
        f"quorum queue, confirms; {ROUNDS} alternating rounds, median reported",
        flush=True,
    )
    raw_times, bus_times = [], []
    for round_ in range(ROUNDS):
        raw_times.append(await run_raw(f"bench-{tag}-{round_}."))
        bus_times.append(await run_bus(f"bench-{tag}-{round_}."))
        print(
            f"  round {round_ + 1}: raw aio-pika {EVENTS / raw_times[-1]:8.0f} msg/s   "
            f"bus {EVENTS / bus_times[-1]:8.0f} msg/s",
            flush=True,
        )
    raw, bus = EVENTS / statistics.median(raw_times), EVENTS / statistics.median(bus_times)
    print(
        f"throughput (publish+consume+ack): raw aio-pika {raw:.0f} msg/s, bus {bus:.0f} msg/s, "
        f"ratio bus/raw {bus / raw:.2f}x",
        flush=True,
    )
    drained, p50, p99, timed = await run_relay(f"bench-{tag}-relay.", f"bench_{tag}")
    print(
        f"outbox relay: drains {drained:.0f} rows/s (one relay, {EVENTS} rows of 1 KB); "
        f"commit-to-publish latency p50 {p50:.1f} ms, p99 {p99:.1f} ms ({timed} events at 200/s, "
        "one per transaction)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
