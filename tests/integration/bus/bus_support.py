"""Helpers of the bus's integration tests: events to send, recording and failing handlers, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from codex_bus import Bus, MessageBatch
from codex_contracts.events import ContentArchivedV1, ContentPublishedV1


async def delete_declared(bus: Bus) -> None:
    """Delete the queues and exchanges this Bus declared (the broker here has no management API)."""
    channel = await bus.connection.channel()
    for queue in sorted(bus.declared.queues):
        await channel.queue_delete(queue)
    for exchange in sorted(bus.declared.exchanges):
        await channel.exchange_delete(exchange)
    await channel.close()


def archived(content_id: str = "c1", creator_id: str = "u1") -> ContentArchivedV1:
    """A small event to send (a long `creator_id` makes a large one)."""
    return ContentArchivedV1(content_id=content_id, creator_id=creator_id, archived_at=datetime.now(UTC))


def published(content_id: str = "p1") -> ContentPublishedV1:
    """An event of a second type (no queue in these tests binds it unless a test subscribes to it)."""
    return ContentPublishedV1(
        content_id=content_id,
        creator_id="u",
        title="t",
        price_cents=1,
        currency="eur",
        asset_id=None,
        published_at=datetime.now(UTC),
    )


async def fail_by_kind(batch: MessageBatch[ContentArchivedV1]) -> None:
    """A handler that retries every message with a KeyError (content ids "key...") or a ValueError."""
    for m in batch:
        try:
            if m.body.content_id.startswith("key"):
                raise KeyError(m.body.content_id)
            raise ValueError(m.body.content_id)
        except Exception:
            m.retry()  # inside the except block: the exception is what the dead letter reports


@dataclass
class Delivery:
    id: str
    attempts: int
    at: float
    batch_size: int
    content_id: str


@dataclass
class Recorder:
    """A handler that records each delivery, then applies `policy` to the batch (default: return)."""

    policy: Callable[[MessageBatch[ContentArchivedV1]], Awaitable[None]] | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, batch: MessageBatch[ContentArchivedV1]) -> None:
        now = time.monotonic()
        self.batches.append(len(batch))
        for m in batch:
            self.deliveries.append(Delivery(m.id, m.attempts, now, len(batch), m.body.content_id))
        self.changed.set()
        if self.policy is not None:
            await self.policy(batch)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Delivery]:
        """Wait until at least `count` deliveries were recorded."""
        async with asyncio.timeout(timeout):
            while len(self.deliveries) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.deliveries


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0, every: float = 0.1) -> None:
    """Wait until `check()` is true, failing after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(every)


async def depth_is(bus: Bus, queue: str, count: int) -> bool:
    """Whether `queue` holds exactly `count` ready messages now (for `eventually`)."""
    return await queue_depth(bus, queue) == count


async def queue_depth(bus: Bus, name: str) -> int:
    """Messages ready in a queue now."""
    channel = await bus.connection.channel()
    try:
        queue = await channel.declare_queue(name, passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await channel.close()
