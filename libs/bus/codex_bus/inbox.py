"""The inbox: a handler's effects and the id of the message that caused them commit together.

```python
inbox = Inbox("catalog.access")
for message in batch:
    async with pool.acquire() as conn, inbox.transaction(conn, message) as fresh:
        if fresh:
            await grant_access(conn, message.body)
```
A redelivered or replayed message finds its id recorded and has no second effect. A handler that
raises rolls back both its effects and the record, so the retry runs it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from codex_bus._pg import PgConnection
from codex_bus.message import Message

__all__ = ["INBOX_RETENTION", "Inbox", "prune_inbox", "prune_inbox_forever"]

log = structlog.stdlib.get_logger("codex_bus")

INBOX_RETENTION = timedelta(days=14)
"""How long the worker keeps handled ids: longer than a dead letter may wait for its replay (a
replay of a message whose id was forgotten takes effect twice)."""

_PRUNE = """
DELETE FROM inbox WHERE (consumer, message_id) IN (
    SELECT consumer, message_id FROM inbox WHERE handled_at < now() - $1::interval
    ORDER BY handled_at LIMIT $2 FOR UPDATE SKIP LOCKED)
"""


class Inbox:
    """Records handled message ids per `consumer` (a name for the handler, stable across deploys)."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer

    @asynccontextmanager
    async def transaction(self, conn: PgConnection, message: Message[Any] | str) -> AsyncIterator[bool]:
        """Open a transaction on `conn` that records the message; yields True the first time.

        A second delivery running at the same time waits on the first one's row lock, then sees
        it committed (False) or rolled back (True), so two deliveries never both get True.
        """
        message_id = message if isinstance(message, str) else message.id
        async with conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING true",
                self.consumer,
                message_id,
            )
            yield bool(inserted)

    async def seen(self, conn: PgConnection, message_id: str) -> bool:
        """Whether the message was handled (committed) by this consumer."""
        found = await conn.fetchval(
            "SELECT true FROM inbox WHERE consumer = $1 AND message_id = $2", self.consumer, message_id
        )
        return bool(found)

    async def prune(self, conn: PgConnection, older_than: timedelta) -> int:
        """Forget ids handled longer ago than `older_than`; keep it longer than dead letters live,
        or a replay after that would run twice."""
        status = await conn.execute(
            "DELETE FROM inbox WHERE consumer = $1 AND handled_at < now() - $2::interval",
            self.consumer,
            older_than,
        )
        return int(status.split()[-1])


async def prune_inbox(pool: asyncpg.Pool, older_than: timedelta, *, chunk: int = 5000) -> int:
    """Forget the ids of every consumer of the pool's schema handled longer ago than `older_than`,
    `chunk` rows per statement (short locks); returns how many."""
    deleted = 0
    while True:
        async with pool.acquire() as conn:
            count = int((await conn.execute(_PRUNE, older_than, chunk)).split()[-1])
        deleted += count
        if count < chunk:
            return deleted


async def prune_inbox_forever(pool: asyncpg.Pool, retention: timedelta, interval: float) -> None:
    """`prune_inbox` now and every `interval` seconds; a failed round is logged and tried again."""
    while True:
        try:
            deleted = await prune_inbox(pool, retention)
            if deleted:
                log.info(
                    "bus.inbox_pruned", deleted=deleted, retention_days=retention.total_seconds() / 86400
                )
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:
            log.warning("bus.inbox_prune_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(interval)
