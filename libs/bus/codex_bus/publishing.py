"""Publishing on the bus's connection: the one object that producers, consumers (their retries and
dead letters) and outbox relays take, so that none of them needs the `Bus` itself.

It holds the confirm channel (`Publisher`), the channel that declares delay queues, and the
topology's names; the `Bus` opens it on connect and closes it with the connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustChannel, AbstractRobustConnection

from codex_bus.errors import UnroutableMessage
from codex_bus.metrics import PUBLISHED
from codex_bus.publisher import Publisher
from codex_bus.topology import DELAY_HEADER, DELAYED_HEADER, DeclaredNames, Topology

__all__ = ["Publishing", "PublishingSource"]

log = structlog.stdlib.get_logger("codex_bus")

# A delay queue is declared again (which resets its x-expires timer) when our last declaration is
# older than this; it must stay well under the hour of grace that topology.py gives each one.
_REDECLARE_AFTER_S = 600.0


class PublishingSource(Protocol):
    """What holds a `Publishing`: a `Bus`, or the `Publishing` itself."""

    @property
    def publishing(self) -> Publishing: ...


class Publishing:
    """Confirmed publishing of events, jobs and settlement copies; delay queues; queue checks."""

    def __init__(self, topology: Topology, *, confirm_timeout: float = 30.0) -> None:
        self.topology = topology
        self.declared = DeclaredNames()
        self._confirm_timeout = confirm_timeout
        self._connection: AbstractRobustConnection | None = None
        self._admin: AbstractRobustChannel | None = None
        self._publisher: Publisher | None = None
        self._delay_declared: dict[str, float] = {}
        self._published: dict[str, Any] = {}  # labelled children of PUBLISHED, by event type
        self._declare_lock = asyncio.Lock()

    async def open(self, connection: AbstractRobustConnection) -> None:
        """Open the confirm channel and the declaring channel on `connection`."""
        confirm_channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self._publisher = Publisher(confirm_channel, confirm_timeout=self._confirm_timeout)
        self._admin = await connection.channel(publisher_confirms=False)
        self._connection = connection

    def closed(self) -> None:
        """Forget the channels (they close with their connection)."""
        self._connection = self._admin = self._publisher = None
        self._delay_declared.clear()

    @property
    def publishing(self) -> Publishing:
        return self

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("Bus is not connected: call `await bus.connect()` first")
        return self._connection

    @property
    def admin_channel(self) -> AbstractRobustChannel:
        if self._admin is None:
            raise RuntimeError("Bus is not connected: call `await bus.connect()` first")
        return self._admin

    @property
    def publisher(self) -> Publisher:
        if self._publisher is None:
            raise RuntimeError("Bus is not connected: call `await bus.connect()` first")
        return self._publisher

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while it is being restored)."""
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def ready(self) -> None:
        """Wait until the connection is up (it reconnects by itself after a loss)."""
        await self.connection.ready()

    async def publish_event(
        self,
        body: bytes,
        *,
        message_id: str,
        event_type: str,
        timestamp: datetime | None = None,
        queue: str | None = None,
        delay_seconds: int = 0,
        reconnect_timeout: float = 0.0,
    ) -> None:
        """Publish an encoded, size-checked envelope to the events exchange, or to the work `queue`
        (unprefixed); `delay_seconds` is already checked (0..43200).

        With a delay it first waits in a TTL queue. Raises `UnroutableMessage` or `PublishFailed`;
        returns once the broker has confirmed it.
        """
        delay_ms = delay_seconds * 1000
        headers: dict[str, Any] | None = None
        if queue is not None:
            target = self.topology.queue(queue)
            exchange, routing_key = "", target
            if delay_ms:
                routing_key = await self.ensure_queue_delay(target, delay_ms, check_target=True)
        elif delay_ms:
            await self._ensure_event_delay(delay_ms)
            exchange, routing_key = self.topology.delay_exchange, event_type
            # DELAYED_HEADER lets the alternate exchange of the due exchange park it if no queue
            # takes its type when it falls due (see topology.py).
            headers = {DELAY_HEADER: str(delay_ms), DELAYED_HEADER: "1"}
        else:
            exchange, routing_key = self.topology.events_exchange, event_type
        await self.publisher.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            message_id=message_id,
            event_type=event_type,
            headers=headers,
            timestamp=timestamp,
            reconnect_timeout=reconnect_timeout,
        )
        counter = self._published.get(event_type)
        if counter is None:
            counter = self._published[event_type] = PUBLISHED.labels(event_type)
        counter.inc()

    async def ensure_queue_delay(
        self, queue: str, delay_ms: int, *, check_target: bool = False, force: bool = False
    ) -> str:
        """Declare (when due) the TTL queue that delivers to the full queue name `queue` after `delay_ms`.

        With `check_target` the target queue must exist already: the TTL queue would otherwise
        accept the message and drop it when it expires, so mandatory routing would not protect it.
        With `force` it is declared now, whenever it was last.
        """
        name = self.topology.queue_delay_queue(queue, delay_ms)
        if force or self._due(name):
            async with self._declare_lock:
                if check_target and not await self.queue_exists(queue):
                    raise UnroutableMessage("", queue)
                await self.topology.declare_queue_delay(self.admin_channel, queue, delay_ms, self.declared)
                self._delay_declared[name] = asyncio.get_running_loop().time()
        return name

    async def _ensure_event_delay(self, delay_ms: int) -> None:
        name = self.topology.event_delay_queue(delay_ms)
        if self._due(name):
            async with self._declare_lock:
                await self.topology.declare_event_delay(self.admin_channel, delay_ms, self.declared)
                self._delay_declared[name] = asyncio.get_running_loop().time()

    def _due(self, name: str) -> bool:
        last = self._delay_declared.get(name)
        return last is None or asyncio.get_running_loop().time() - last > _REDECLARE_AFTER_S

    @asynccontextmanager
    async def plain_channel(self) -> AsyncIterator[aio_pika.Channel]:
        """A channel of its own that nothing restores after a reconnection (closed on exit).

        What is declared on a robust channel is declared again on every reconnection, and one
        failure there fails the reconnection itself: a classic queue (which lives on one node of a
        cluster) declared that way would keep the bus off the cluster while its node is down.
        """
        channel = aio_pika.Channel(self.connection, publisher_confirms=False)
        await channel.initialize()
        try:
            yield channel
        finally:
            if not channel.is_closed:
                await channel.close()

    async def declare_classic_queue(
        self, queue: str, declare: Callable[[AbstractChannel], Awaitable[Any]]
    ) -> bool:
        """Run `declare` (of the classic queue `queue`) on a plain channel; False, with a warning, when
        the queue's node is down: the bus works on without it until the node is back."""
        try:
            async with self.plain_channel() as channel:
                await declare(channel)
        except aio_pika.exceptions.ChannelNotFoundEntity as exc:
            log.warning("bus.classic_queue_unavailable", queue=queue, error=str(exc))
            return False
        return True

    async def queue_exists(self, queue: str) -> bool:
        """Whether the queue of full name `queue` exists on the broker now."""
        # A passive declare of a missing queue closes its channel: a plain channel of its own.
        try:
            async with self.plain_channel() as channel:
                await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        return True
