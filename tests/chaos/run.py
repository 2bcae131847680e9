"""`make chaos`: the bus on a 3-node RabbitMQ cluster while the queue's leader is SIGKILLed.

Starts a throwaway cluster from the installed rabbitmq-server (cluster.py, ports 5681-5683 by
default, the system node on 5672 untouched), commits `--events` events to two outboxes, relays them
with two relay processes through two consumer processes (each a `run_worker`, with an AMQP_URL
naming every node), and SIGKILLs the node that leads the consuming quorum queue once a share of the
effects is in. Prints what was sent, what took effect, what was lost or took effect twice, and how
long the flow stalled; exits 1 if anything was lost or doubled. Takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).parent))

from cluster import Cluster, Node
from parts import QUEUE, SETTINGS, TABLES

from codex_bus import BUS_MIGRATIONS, Bus, MessageBatch, Outbox, Topology, subscribe
from codex_contracts.events import ContentArchivedV1
from codex_platform.db import create_pool, migrate, quote_ident

PARTS = Path(__file__).with_name("parts.py")
ON_LEADER = "on-leader"  # the consumer process first connected to the node that will be killed


def say(line: str) -> None:
    print(f"chaos: {line}", flush=True)


async def write_events(
    pool: asyncpg.Pool, count: int, source: str, *, per_transaction: int, pause: float
) -> set[str]:
    from datetime import UTC, datetime

    outbox, ids = Outbox(source=source), set[str]()
    for start in range(0, count, per_transaction):
        events = [
            ContentArchivedV1(content_id=f"{source}-{i}", creator_id="u", archived_at=datetime.now(UTC))
            for i in range(start, min(count, start + per_transaction))
        ]
        async with pool.acquire() as conn, conn.transaction():
            ids.update(e.id for e in await outbox.add_batch(conn, events))
        await asyncio.sleep(pause)
    return ids


async def until(check: object, timeout: float, every: float = 0.1) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(every)


async def queue_depth(bus: Bus, name: str) -> int:
    async with bus.publishing.plain_channel() as channel:
        declared = await channel.declare_queue(name, passive=True)
        return declared.declaration_result.message_count or 0


async def _noop(batch: MessageBatch[ContentArchivedV1]) -> None:
    return None


async def scenario(cluster: Cluster, args: argparse.Namespace) -> int:
    tag = uuid.uuid4().hex[:8]
    prefix = f"chaos-{tag}."
    schemas = [f"chaos_{tag}_{name}" for name in ("orders", "uploads", "effects")]
    for schema in schemas:
        await migrate(args.database_url, schema=schema, sources=[BUS_MIGRATIONS])
    outbox_pools = [await create_pool(args.database_url, schema=s, max_size=3) for s in schemas[:2]]
    effects = await create_pool(args.database_url, schema=schemas[2], max_size=3)
    async with effects.acquire() as conn:
        await conn.execute(TABLES)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Declare the queue through node 1, which then leads it; the killed node is the leader.
        async with Bus(cluster.url(), topology=Topology(prefix=prefix), name="chaos-probe") as probe:
            consumer = probe.consumer(QUEUE, [subscribe(ContentArchivedV1, _noop)], SETTINGS)
            await consumer.start()
            await consumer.stop()
            queue, dead_letters = consumer.queue, consumer.dead_letter_queue
        leader = cluster.leader_of(queue)
        addresses = ", ".join(n.address for n in cluster.nodes)
        say(f"3-node cluster on {addresses}; quorum queue {queue} led by {leader.name}")
        logs = cluster.root / "parts.log"
        with logs.open("ab") as log:
            # Clients spread over the nodes; one relay and one consumer on the leader's node.
            at = cluster.nodes.index(leader)
            outboxes = ",".join(schemas[:2])
            for kind, rotate, extra in (
                ("relay", at, [outboxes]),
                ("relay", (at + 2) % 3, [outboxes]),
                ("consumer", at, [schemas[2], ON_LEADER]),
                ("consumer", (at + 1) % 3, [schemas[2], "elsewhere"]),
            ):
                url = cluster.url(rotate=rotate)
                command = [sys.executable, str(PARTS), kind, url, args.database_url, prefix, *extra]
                procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))

        async def effect_count() -> int:
            async with effects.acquire() as conn:
                return int(await conn.fetchval("SELECT count(DISTINCT message_id) FROM effects"))

        # Warm up: one event through each outbox, so that every process is up before the flow.
        started = time.monotonic()
        warm = [
            await write_events(pool, 1, f"warm-{source}", per_transaction=1, pause=0)
            for pool, source in zip(outbox_pools, ("orders", "uploads"), strict=True)
        ]
        await until(lambda: _at_least(effect_count, 2), timeout=120)
        say(f"processes up and relaying in {time.monotonic() - started:.1f} s")
        assert cluster.leader_of(queue) is leader  # leadership does not move until a node fails
        started = time.monotonic()
        half = (args.events - 2) // 2
        writers = [
            asyncio.create_task(write_events(pool, half, source, per_transaction=50, pause=args.pause))
            for pool, source in zip(outbox_pools, ("orders", "uploads"), strict=True)
        ]
        kill_at = int(args.events * args.kill_at)
        await until(lambda: _at_least(effect_count, kill_at), timeout=args.timeout)
        async with effects.acquire() as conn:
            killed_at = await conn.fetchval("SELECT clock_timestamp()")
        handled_before = await effect_count()
        cluster.kill(leader)
        elapsed = time.monotonic() - started
        say(f"SIGKILL {leader.name} (leader of {queue}) at {handled_before} effects, {elapsed:.1f} s in")
        written = set().union(*warm, *await asyncio.gather(*writers))
        await until(lambda: _at_least(effect_count, len(written)), timeout=args.timeout, every=0.2)
        done = time.monotonic() - started
        await asyncio.sleep(3.0)  # late duplicates, if any, arrive before the count
        new_leader = cluster.leader_of(queue, ask=cluster.alive()[0])
        timings = {"done": done}
        return await report(
            cluster,
            effects,
            outbox_pools,
            written,
            killed_at,
            timings,
            leader,
            new_leader,
            prefix,
            dead_letters,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for pool in [*outbox_pools, effects]:
            await pool.close()
        admin = await asyncpg.connect(args.database_url)
        try:
            for schema in schemas:
                await admin.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        finally:
            await admin.close()


async def report(
    cluster: Cluster,
    effects: asyncpg.Pool,
    outbox_pools: list[asyncpg.Pool],
    written: set[str],
    killed_at: object,
    timings: dict[str, float],
    leader: Node,
    new_leader: Node,
    prefix: str,
    dead_letter_queue: str,
) -> int:
    async with effects.acquire() as conn:
        rows, distinct = await conn.fetchrow("SELECT count(*), count(DISTINCT message_id) FROM effects")  # type: ignore[misc]
        handled = {r["message_id"] for r in await conn.fetch("SELECT DISTINCT message_id FROM effects")}
        deliveries = int(await conn.fetchval("SELECT count(*) FROM deliveries"))
        failover = await conn.fetchval(
            """SELECT extract(epoch FROM max(gap))::float8 FROM (
                   SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM effects WHERE consumer = $2 AND at >=
                       (SELECT coalesce(max(at), $1) FROM effects WHERE at <= $1 AND consumer = $2)) gaps""",
            killed_at,
            ON_LEADER,
        )
        longest_pause = await conn.fetchval(
            """SELECT extract(epoch FROM max(gap))::float8 FROM (
                   SELECT at - lag(at) OVER (ORDER BY at) AS gap FROM effects
                   WHERE at >= (SELECT coalesce(max(at), $1) FROM effects WHERE at <= $1)) gaps""",
            killed_at,
        )
    unsent = []
    for pool in outbox_pools:
        async with pool.acquire() as conn:
            unsent.append(int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")))
    lost, twice = len(written - handled), rows - distinct
    say(f"{len(written)} events, 2 outboxes, 2 relay and 2 consumer processes; new leader {new_leader.name}")
    say(
        f"effects {distinct} distinct of {len(written)} sent: lost {lost}, took effect twice {twice}; "
        f"deliveries {deliveries} ({deliveries - distinct} redelivered, absorbed by the inbox)"
    )
    say(
        f"recovery: longest pause in effects {longest_pause or 0:.2f} s; the consumer that was on the killed "
        f"node failed over and took effect again after {failover or 0:.2f} s; all {len(written)} in "
        f"{timings['done']:.1f} s"
    )
    restarted = time.monotonic()
    cluster.restart(leader)
    say(f"{leader.name} restarted and rejoined in {time.monotonic() - restarted:.1f} s")
    async with Bus(
        cluster.url(), topology=Topology(prefix=prefix), name="chaos-probe", declare_exchanges=False
    ) as probe:
        parked = await queue_depth(probe, probe.topology.unrouted)
        dead = await queue_depth(probe, dead_letter_queue)
    say(f"outbox rows unsent {unsent}; dead letters {dead}; parked unrouted {parked}")
    ok = lost == 0 and twice == 0 and unsent == [0, 0] and dead == 0
    say("PASS" if ok else "FAIL")
    return 0 if ok else 1


async def _at_least(count: object, target: int) -> bool:
    return await count() >= target  # type: ignore[operator,no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of effects in when the leader dies")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between outbox transactions of 50")
    parser.add_argument("--first-port", type=int, default=5681)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    args = parser.parse_args()
    started = time.monotonic()
    with Cluster(size=3, first_port=args.first_port) as cluster:
        say(f"cluster up in {time.monotonic() - started:.1f} s")
        return asyncio.run(scenario(cluster, args))


if __name__ == "__main__":
    sys.exit(main())
