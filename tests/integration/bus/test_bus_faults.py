"""Faults of the bus issue, counting effects: nothing lost, nothing takes effect twice.

- the broker closes every connection while 10,000 events flow from two outboxes to consumers;
- a relay process is killed (SIGKILL) between publish and mark-sent;
- a consumer process is killed (SIGKILL) in the middle of a batch.

Connections are closed per vhost (a vhost of this test's own), so that tests of other packages
running on the same broker at the same time keep theirs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest
from bus_support import archived, delete_declared, eventually
from fault_procs import INBOX, record_effect

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
from codex_contracts.events import ContentArchivedV1
from codex_platform.db import create_pool, migrate, quote_ident

pytestmark = pytest.mark.slow

PROCS = Path(__file__).with_name("fault_procs.py")

EFFECTS = "CREATE TABLE effects (message_id text NOT NULL, content_id text NOT NULL)"


class Effects:
    """The consumer side: a handler that takes effect through the inbox, and counts what it saw."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.deliveries = 0
        self.repeats = 0  # deliveries the inbox recognised
        self.max_attempts = 0

    async def __call__(self, batch: MessageBatch[ContentArchivedV1]) -> None:
        # One transaction per batch, a savepoint (the inbox's) per message.
        async with self.pool.acquire() as conn, conn.transaction():
            for message in batch:
                self.deliveries += 1
                self.max_attempts = max(self.max_attempts, message.attempts)
                if not await record_effect(conn, message.id, message.body.content_id):
                    self.repeats += 1

    async def count(self) -> tuple[int, int]:
        """(effects, distinct message ids among them)."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT count(*), count(DISTINCT message_id) FROM effects")
        assert row is not None
        return row[0], row[1]


async def unsent(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def write_events(
    pool: asyncpg.Pool, count: int, *, per_transaction: int = 100, pause: float = 0.0
) -> set[str]:
    """Commit `count` events to the pool's outbox; returns their ids."""
    outbox, ids = Outbox(source="faults"), set()
    for start in range(0, count, per_transaction):
        async with pool.acquire() as conn, conn.transaction():
            envelopes = await outbox.add_batch(
                conn, [archived(f"c{i}") for i in range(start, min(count, start + per_transaction))]
            )
        ids.update(e.id for e in envelopes)
        if pause:
            await asyncio.sleep(pause)
    return ids


@pytest.fixture
def fault_vhost(amqp_url: str) -> Iterator[str]:
    """An AMQP URL on a vhost of this test's own, deleted (with all its queues) afterwards."""
    vhost = f"codex-fault-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    user = urlsplit(amqp_url).username or "guest"
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    parts = urlsplit(amqp_url)
    yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


@pytest.fixture
async def second_schema(database_url: str) -> AsyncIterator[str]:
    """A second service's schema, migrated with the bus tables; dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    await migrate(database_url, schema=schema, sources=[BUS_MIGRATIONS])
    yield schema
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


async def close_all_connections(vhost_url: str) -> None:
    vhost = urlsplit(vhost_url).path[1:]
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl",
        "-q",
        "close_all_connections",
        "--vhost",
        vhost,
        "--limit",
        "1000",
        "fault test",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


async def test_nothing_is_lost_or_doubled_when_the_broker_closes_every_connection(
    fault_vhost: str, database_url: str, bus_pool: asyncpg.Pool, second_schema: str, queue_prefix: str
) -> None:
    total = 10_000
    topology = Topology(prefix=queue_prefix)
    other_pool = await create_pool(database_url, schema=second_schema, max_size=4)
    async with bus_pool.acquire() as conn:
        await conn.execute(EFFECTS)
    effects = Effects(bus_pool)
    settings = ConsumerSettings(max_batch_size=100, max_batch_timeout=0.05, max_concurrency=2)
    buses = [Bus(fault_vhost, topology=topology, name=f"fault-{i}") for i in range(4)]
    relays = [
        OutboxRelay(pool, bus, poll_interval=0.5)
        for pool, bus in (
            (bus_pool, buses[0]),
            (bus_pool, buses[1]),
            (other_pool, buses[1]),
            (other_pool, buses[2]),
        )
    ]
    try:
        for bus in buses:
            await bus.connect()
        consumers = [
            bus.consumer("effects", [subscribe(ContentArchivedV1, effects)], settings) for bus in buses[2:]
        ]
        for consumer in consumers:
            await consumer.start()
        for relay in relays:
            await relay.start()

        async def faults() -> None:
            for threshold in (2_000, 6_000):
                await eventually(lambda t=threshold: _at_least(effects, t), timeout=60, every=0.05)
                await close_all_connections(fault_vhost)

        writers = [
            asyncio.create_task(write_events(pool, total // 2, pause=0.02)) for pool in (bus_pool, other_pool)
        ]
        fault_task = asyncio.create_task(faults())
        written = set().union(*await asyncio.gather(*writers))
        await asyncio.wait_for(fault_task, timeout=90)
        await eventually(lambda: _at_least(effects, total), timeout=60, every=0.2)
        await asyncio.sleep(1.0)  # let any late duplicate arrive before counting

        count, distinct = await effects.count()
        assert (count, distinct) == (total, total)
        async with bus_pool.acquire() as conn:
            handled = {r["message_id"] for r in await conn.fetch("SELECT message_id FROM effects")}
        assert handled == written
        assert await unsent(bus_pool) == 0 and await unsent(other_pool) == 0
        for bus in buses:
            assert bus.connection.connection_attempt >= 3, "every connection was closed twice and came back"
        assert effects.max_attempts >= 2  # deliveries in flight at a close came back, counted
        dlq = consumers[0].dead_letter_queue
        channel = await buses[0].connection.channel()
        assert (await channel.declare_queue(dlq, passive=True)).declaration_result.message_count == 0
        await channel.close()
    finally:
        for relay in relays:
            await relay.stop()
        for bus in buses:
            await bus.close()
        await other_pool.close()


async def test_a_relay_killed_between_publish_and_mark_sent_loses_nothing(
    bus: Bus, bus_pool: asyncpg.Pool, amqp_url: str, database_url: str, pg_schema: str, queue_prefix: str
) -> None:
    total = 500
    async with bus_pool.acquire() as conn:
        await conn.execute(EFFECTS)
    effects = Effects(bus_pool)
    settings = ConsumerSettings(max_batch_size=50, max_batch_timeout=0.05)
    async with bus.consumer("effects", [subscribe(ContentArchivedV1, effects)], settings):
        written = await write_events(bus_pool, total)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PROCS),
            "relay",
            amqp_url,
            database_url,
            pg_schema,
            queue_prefix,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.startswith(b"PUBLISHED 100"), line
        process.kill()  # SIGKILL: its transaction (the claim) dies with it, nothing was marked sent
        await process.wait()
        await eventually(lambda: _at_least(effects, 100))
        assert await unsent(bus_pool) == total

        relay = OutboxRelay(bus_pool, bus, poll_interval=0.2)
        await relay.start()
        try:
            await eventually(lambda: _at_least(effects, total), timeout=30)
            await eventually(lambda: _unsent_is(bus_pool, 0))
            await asyncio.sleep(0.5)
        finally:
            await relay.stop()
    async with bus_pool.acquire() as conn:
        handled = {r["message_id"] for r in await conn.fetch("SELECT message_id FROM effects")}
    assert await effects.count() == (total, total)
    assert handled == written
    assert effects.repeats >= 100  # the 100 published twice reached the handler twice, took effect once
    assert effects.deliveries == total + effects.repeats


async def test_a_consumer_killed_mid_batch_loses_nothing(
    bus: Bus, bus_pool: asyncpg.Pool, amqp_url: str, database_url: str, pg_schema: str, queue_prefix: str
) -> None:
    total, kill_after = 400, 120  # 120 = two batches of 50 acked, then 20 of the third taking effect
    async with bus_pool.acquire() as conn:
        await conn.execute(EFFECTS)
    effects = Effects(bus_pool)
    settings = ConsumerSettings(max_batch_size=50, max_batch_timeout=0.1)
    consumer = bus.consumer("effects", [subscribe(ContentArchivedV1, effects)], settings)
    await consumer.start()
    await consumer.stop()  # declared; the events wait in the queue for the process below
    envelopes = await bus.producer(source="faults").send_batch([archived(f"c{i}") for i in range(total)])

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROCS),
        "consumer",
        amqp_url,
        database_url,
        pg_schema,
        queue_prefix,
        str(kill_after),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        while not (line := await process.stdout.readline()).startswith(b"MIDBATCH"):
            assert line, "the consumer process ended early"
    process.kill()
    await process.wait()
    assert await effects.count() == (kill_after, kill_after)

    async with consumer:
        await eventually(lambda: _at_least(effects, total), timeout=30)
        await asyncio.sleep(0.5)
    async with bus_pool.acquire() as conn:
        handled = {r["message_id"] for r in await conn.fetch("SELECT message_id FROM effects")}
        assert await INBOX.seen(conn, envelopes[0].id)
    assert await effects.count() == (total, total)
    assert handled == {e.id for e in envelopes}
    assert effects.repeats >= 20  # took effect before the kill, unacked, redelivered: no second effect
    assert effects.max_attempts >= 2  # the broker counted the redelivery
    await delete_declared(bus)


async def _at_least(effects: Effects, count: int) -> bool:
    return (await effects.count())[0] >= count


async def _unsent_is(pool: asyncpg.Pool, count: int) -> bool:
    return await unsent(pool) == count
