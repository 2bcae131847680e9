"""The Bus: one robust AMQP connection, its publishing and declaring channels, and routing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from codex_bus.errors import MAX_MESSAGE_BYTES, MessageTooLarge, UnroutableMessage, check_delay
from codex_bus.metrics import PUBLISHED
from codex_bus.publisher import Publisher
from codex_bus.topology import DELAY_HEADER, DeclaredNames, Topology

if TYPE_CHECKING:
    from codex_bus.consumer import Consumer
    from codex_bus.producer import Producer
    from codex_bus.settings import ConsumerSettings
    from codex_bus.subscriptions import Subscription

__all__ = ["Bus"]

# A delay queue is declared again (which resets its x-expires timer) when our last declaration is
# older than this; it must stay well under the hour of grace that topology.py gives each one.
_REDECLARE_AFTER_S = 600.0


class Bus:
    """Owns the connection to RabbitMQ; makes producers and consumers that share it.

    `async with Bus(amqp_url, topology=Topology(prefix="test_")) as bus: ...`; the events
    exchanges are declared on entry, each consumer declares its own queues when it starts.
    """

    def __init__(
        self,
        url: str,
        *,
        topology: Topology | None = None,
        name: str = "codex",
        reconnect_interval: float = 1.0,
        confirm_timeout: float = 30.0,
        declare_exchanges: bool = True,
    ) -> None:
        self.url = url
        self.topology = topology or Topology()
        self.declared = DeclaredNames()
        self._name = name
        self._reconnect_interval = reconnect_interval
        self._confirm_timeout = confirm_timeout
        self._declare_exchanges = declare_exchanges
        self._connection: AbstractRobustConnection | None = None
        self._admin: AbstractRobustChannel | None = None
        self._publisher: Publisher | None = None
        self._delay_declared: dict[str, float] = {}
        self._published: dict[str, Any] = {}  # labelled children of PUBLISHED, by event type
        self._declare_lock = asyncio.Lock()

    async def connect(self) -> None:
        """Connect (retrying in the background after any later loss) and declare the exchanges
        (unless made with `declare_exchanges=False`, as operator tools are)."""
        self._connection = await aio_pika.connect_robust(
            self.url,
            reconnect_interval=self._reconnect_interval,
            client_properties={"connection_name": self._name},
        )
        confirm_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._publisher = Publisher(confirm_channel, confirm_timeout=self._confirm_timeout)
        self._admin = await self._connection.channel(publisher_confirms=False)
        if self._declare_exchanges:
            await self.topology.declare_exchanges(self._admin, self.declared)

    async def close(self) -> None:
        """Close the connection and every channel on it (unsettled deliveries go back to their queue)."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def __aenter__(self) -> Bus:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

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

    async def ready(self) -> None:
        """Wait until the connection is up (it reconnects by itself after a loss)."""
        await self.connection.ready()

    def producer(self, *, source: str, queue: str | None = None) -> Producer:
        """A producer of events (to the events exchange) or, with `queue`, of jobs to a work queue.

        `source` is the CloudEvents source of what it sends, e.g. the service name.
        """
        from codex_bus.producer import Producer

        return Producer(self, source=source, queue=queue)

    def consumer(
        self,
        queue: str,
        subscriptions: Sequence[Subscription[Any]],
        settings: ConsumerSettings | None = None,
        *,
        bind: bool = True,
    ) -> Consumer:
        """A consumer of `queue` (a service's queue, or a work queue with `bind=False`)."""
        from codex_bus.consumer import Consumer
        from codex_bus.settings import ConsumerSettings

        return Consumer(self, queue, subscriptions, settings or ConsumerSettings(), bind=bind)

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
        """Publish an encoded envelope to the events exchange, or to the work `queue` (unprefixed).

        With a delay it first waits in a TTL queue. Raises `MessageTooLarge`, `InvalidDelay`,
        `UnroutableMessage` or `PublishFailed`; returns once the broker has confirmed it.
        """
        if len(body) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(event_type, len(body))
        delay_ms = check_delay(delay_seconds) * 1000
        headers: dict[str, Any] | None = None
        if queue is not None:
            target = self.topology.queue(queue)
            exchange, routing_key = "", target
            if delay_ms:
                routing_key = await self.ensure_queue_delay(target, delay_ms, check_target=True)
        elif delay_ms:
            await self._ensure_event_delay(delay_ms)
            exchange, routing_key = self.topology.delay_exchange, event_type
            headers = {DELAY_HEADER: str(delay_ms)}
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

    async def ensure_queue_delay(self, queue: str, delay_ms: int, *, check_target: bool = False) -> str:
        """Declare (when due) the TTL queue that delivers to the full queue name `queue` after `delay_ms`.

        With `check_target` the target queue must exist already: the TTL queue would otherwise
        accept the message and drop it when it expires, so mandatory routing would not protect it.
        """
        name = self.topology.queue_delay_queue(queue, delay_ms)
        if self._due(name):
            async with self._declare_lock:
                if check_target:
                    await self._check_queue_exists(queue)
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

    async def _check_queue_exists(self, queue: str) -> None:
        # A passive declare of a missing queue closes its channel: a plain (not robust) channel of
        # its own, so that nothing tries to restore it.
        channel = aio_pika.Channel(self.connection, publisher_confirms=False)
        await channel.initialize()
        try:
            await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            raise UnroutableMessage("", queue) from None
        finally:
            if not channel.is_closed:
                await channel.close()
