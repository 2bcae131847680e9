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

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from codex_bus._pg import PgConnection
from codex_bus.message import Message

__all__ = ["Inbox"]


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
