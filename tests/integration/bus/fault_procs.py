"""Processes the fault tests kill: a relay that stalls between publish and mark-sent, and a
consumer that stalls in the middle of a batch. Each prints a line when it reached that point.

    python fault_procs.py relay AMQP_URL DATABASE_URL SCHEMA PREFIX
    python fault_procs.py consumer AMQP_URL DATABASE_URL SCHEMA PREFIX AFTER
"""

from __future__ import annotations

import asyncio
import sys

from codex_bus import Bus, ConsumerSettings, Inbox, MessageBatch, OutboxRelay, Topology, subscribe
from codex_bus._pg import PgConnection
from codex_contracts.events import ContentArchivedV1
from codex_platform.db import create_pool

INBOX = Inbox("fault.effects")


class StallingRelay(OutboxRelay):
    """Publishes a batch (confirmed), then stops before marking it sent, as if killed right there."""

    async def _mark_sent(self, conn: PgConnection, seqs: list[int]) -> None:
        print(f"PUBLISHED {len(seqs)}", flush=True)
        await asyncio.Event().wait()


async def record_effect(conn: PgConnection, message_id: str, content_id: str) -> bool:
    """The handler's effect, under the inbox: True when it took effect now."""
    async with INBOX.transaction(conn, message_id) as fresh:
        if fresh:
            await conn.execute(
                "INSERT INTO effects (message_id, content_id) VALUES ($1, $2)", message_id, content_id
            )
        return fresh


async def relay(amqp_url: str, database_url: str, schema: str, prefix: str) -> None:
    pool = await create_pool(database_url, schema=schema)
    async with Bus(amqp_url, topology=Topology(prefix=prefix), name="fault-relay") as bus:
        stalling = StallingRelay(pool, bus, batch_size=100)
        await stalling.start()
        await asyncio.Event().wait()


async def consumer(amqp_url: str, database_url: str, schema: str, prefix: str, after: int) -> None:
    pool = await create_pool(database_url, schema=schema)
    handled = 0

    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        nonlocal handled
        for message in batch:
            async with pool.acquire() as conn:
                await record_effect(conn, message.id, message.body.content_id)
            handled += 1
            if handled == after:
                # Effects of part of this batch are committed, none of the batch is acked.
                print(f"MIDBATCH {handled}", flush=True)
                await asyncio.Event().wait()

    async with Bus(amqp_url, topology=Topology(prefix=prefix), name="fault-consumer") as bus:
        settings = ConsumerSettings(max_batch_size=50, max_batch_timeout=0.1)
        async with bus.consumer("effects", [subscribe(ContentArchivedV1, handle)], settings):
            print("CONSUMING", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "relay":
        asyncio.run(relay(*args))
    else:
        asyncio.run(consumer(*args[:4], int(args[4])))
