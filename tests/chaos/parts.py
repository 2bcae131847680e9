"""The worker processes of the chaos run, each a real `run_worker` on a Bus that names every node.

    python parts.py relay    AMQP_URL DATABASE_URL PREFIX SCHEMA[,SCHEMA...]
    python parts.py consumer AMQP_URL DATABASE_URL PREFIX SCHEMA NAME

A relay process relays the outbox of each schema; a consumer process consumes the `effects` queue
and records one effect per message through the inbox (one transaction per batch, a savepoint per
message), and every delivery, so that redeliveries can be counted.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from codex_bus import Bus, ConsumerSettings, Inbox, MessageBatch, OutboxRelay, Topology, run_worker, subscribe
from codex_contracts.events import ContentArchivedV1
from codex_platform.db import create_pool

INBOX = Inbox("chaos.effects")
QUEUE = "effects"
SETTINGS = ConsumerSettings(max_batch_size=50, max_batch_timeout=0.05, max_concurrency=2)

TABLES = """
CREATE TABLE effects (message_id text NOT NULL, content_id text NOT NULL, consumer text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE deliveries (message_id text NOT NULL, attempts integer NOT NULL);
"""


def effects_handler(
    pool: asyncpg.Pool, name: str
) -> Callable[[MessageBatch[ContentArchivedV1]], Awaitable[None]]:
    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO deliveries (message_id, attempts) VALUES ($1, $2)",
                [(m.id, m.attempts) for m in batch],
            )
            for message in batch:
                async with INBOX.transaction(conn, message) as fresh:
                    if fresh:
                        await conn.execute(
                            "INSERT INTO effects (message_id, content_id, consumer) VALUES ($1, $2, $3)",
                            message.id,
                            message.body.content_id,
                            name,
                        )

    return handle


async def relay(amqp_url: str, database_url: str, prefix: str, schemas: str) -> None:
    pools = [await create_pool(database_url, schema=schema, max_size=3) for schema in schemas.split(",")]
    bus = Bus(amqp_url, topology=Topology(prefix=prefix), name="chaos-relay")
    await run_worker(bus, relays=[OutboxRelay(pool, bus, poll_interval=0.2) for pool in pools])


async def consumer(amqp_url: str, database_url: str, prefix: str, schema: str, name: str) -> None:
    pool = await create_pool(database_url, schema=schema, max_size=4)
    bus = Bus(amqp_url, topology=Topology(prefix=prefix), name="chaos-consumer")
    handler = effects_handler(pool, name)
    await run_worker(bus, consumers=[bus.consumer(QUEUE, [subscribe(ContentArchivedV1, handler)], SETTINGS)])


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    asyncio.run(relay(*args) if command == "relay" else consumer(*args))
