"""Defects 1, 3 and 4 of the faults issue: the outbox relay under an old unroutable row, an error
it did not expect, and a broker outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiormq
import asyncpg
import pytest
from bus_support import Recorder, archived, eventually, published
from prometheus_client import REGISTRY
from structlog.testing import capture_logs
from tcp_proxy import TcpProxy

from codex_bus import Bus, ConsumerSettings, Outbox, OutboxRelay, PublishFailed, Topology, subscribe
from codex_contracts.events import ContentArchivedV1

FAST = ConsumerSettings(max_batch_timeout=0.1)


async def add(pool: asyncpg.Pool, *events: Any) -> list[str]:
    async with pool.acquire() as conn, conn.transaction():
        return [e.id for e in await Outbox(source="catalog").add_batch(conn, list(events))]


async def outbox_rows(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT message_id, attempts, last_error, sent_at, available_at FROM outbox")
    return {r["message_id"]: r for r in rows}


async def test_a_row_unroutable_for_days_neither_jams_the_relay_nor_undoes_the_others(
    bus: Bus, bus_pool: asyncpg.Pool
) -> None:
    recorder = Recorder()
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        [stuck] = await add(bus_pool, published("nobody-binds-me"))
        async with bus_pool.acquire() as conn:  # 3.5 days of failing every 5 minutes
            await conn.execute("UPDATE outbox SET attempts = 1100 WHERE message_id = $1", stuck)
        fresh = await add(bus_pool, archived("a"), archived("b"))
        relay = OutboxRelay(bus_pool, bus, max_failure_backoff=300)
        assert await relay.relay_once() == 2
        await recorder.wait_for(2)
    rows = await outbox_rows(bus_pool)
    assert all(rows[i]["sent_at"] is not None for i in fresh)
    assert rows[stuck]["sent_at"] is None and rows[stuck]["attempts"] == 1101
    assert "UnroutableMessage" in rows[stuck]["last_error"]
    wait = (rows[stuck]["available_at"] - rows[fresh[0]]["sent_at"]).total_seconds()
    assert 290 <= wait <= 310  # the backoff is capped, not overflowed
    assert await relay.relay_once() == 0  # the stuck row waits out its backoff


async def test_a_publish_error_the_relay_did_not_expect_fails_that_row_alone(
    bus: Bus, bus_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    publish = bus.publishing.publish_event
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        bad, good = await add(bus_pool, archived("bad"), archived("good"))

        async def channel_error_for_bad(body: bytes, **kwargs: Any) -> None:
            if kwargs["message_id"] == bad:  # e.g. a delay queue's declaration refused
                raise aiormq.exceptions.AMQPChannelError("PRECONDITION_FAILED - declaring a delay queue")
            await publish(body, **kwargs)

        monkeypatch.setattr(bus.publishing, "publish_event", channel_error_for_bad)
        relay = OutboxRelay(bus_pool, bus, failure_backoff=0.01)
        with capture_logs() as logs:
            assert await relay.relay_once() == 1
        monkeypatch.undo()
        await asyncio.sleep(0.05)
        assert await relay.relay_once() == 1  # after its backoff the row goes out
        await recorder.wait_for(2)
    rows = await outbox_rows(bus_pool)
    assert rows[good]["attempts"] == 0 and rows[bad]["attempts"] == 1
    assert "AMQPChannelError" in rows[bad]["last_error"]
    assert [e["message_id"] for e in logs if e["event"] == "bus.outbox_publish_crashed"] == [bad]


async def test_the_relay_loop_logs_and_outlives_any_error(
    bus: Bus, bus_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    relay = OutboxRelay(bus_pool, bus, poll_interval=0.1)
    relay_once = relay.relay_once
    calls = 0

    async def crash_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise aiormq.exceptions.AMQPChannelError("channel closed while declaring")
        return await relay_once()

    monkeypatch.setattr(relay, "relay_once", crash_once)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST):
        await add(bus_pool, archived("x"))
        with capture_logs() as logs:
            await relay.start()
            try:
                await recorder.wait_for(1)
                assert not any(task.done() for task in relay._tasks)
            finally:
                await relay.stop()
    assert [e["log_level"] for e in logs if e["event"] == "bus.outbox_relay_crashed"] == ["error"]
    failures = REGISTRY.get_sample_value("codex_bus_outbox_relay_failures_total", {"schema": relay.schema})
    assert failures is not None and failures >= 1


@pytest.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(amqp_url)
    await proxy.start()
    yield proxy
    await proxy.cut()


async def test_the_relay_claims_nothing_while_the_broker_is_away(
    proxy: TcpProxy, bus: Bus, bus_pool: asyncpg.Pool, queue_prefix: str
) -> None:
    recorder = Recorder()
    topology = Topology(prefix=queue_prefix)
    async with (
        bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAST),
        Bus(proxy.url, topology=topology, name="behind-proxy") as far,
    ):
        await add(bus_pool, archived("during-outage"))
        await proxy.cut()
        await eventually(lambda: _down(far))
        relay = OutboxRelay(bus_pool, far)
        started = time.monotonic()
        with pytest.raises(PublishFailed, match="down"):
            async with asyncio.timeout(10):  # before the fix: held its claim for ever
                await relay.relay_once()
        assert time.monotonic() - started < 1.0
        async with bus_pool.acquire() as conn:  # no lock held: another claim sees the row
            locked = await conn.fetch("SELECT seq FROM outbox WHERE sent_at IS NULL FOR UPDATE NOWAIT")
        assert len(locked) == 1
        await proxy.start()
        await eventually(lambda: _up(far), timeout=15)
        assert await relay.relay_once() == 1
        await recorder.wait_for(1)


async def _down(bus: Bus) -> bool:
    return not bus.is_connected


async def _up(bus: Bus) -> bool:
    return bus.is_connected
