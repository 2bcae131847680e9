"""The Bus: one robust AMQP connection, its publishing, and the producers and consumers sharing it."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from codex_bus.consumer import Consumer
from codex_bus.nodes import connect_failover
from codex_bus.producer import Producer
from codex_bus.publisher import Publisher
from codex_bus.publishing import Publishing
from codex_bus.settings import ConsumerSettings
from codex_bus.subscriptions import Subscription
from codex_bus.topology import DeclaredNames, Topology

__all__ = ["Bus"]


class Bus:
    """Owns the connection to RabbitMQ; makes producers and consumers that share it.

    `async with Bus(amqp_url, topology=Topology(prefix="test_")) as bus: ...`; the events
    exchanges are declared on entry, each consumer declares its own queues when it starts.
    `url` may name several nodes of a cluster (`amqp://u:p@rabbit-1:5672,rabbit-2:5672/`): the
    bus connects to the first that answers and fails over to the next after a loss (nodes.py).
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
        self.publishing = Publishing(topology or Topology(), confirm_timeout=confirm_timeout)
        self._name = name
        self._reconnect_interval = reconnect_interval
        self._declare_exchanges = declare_exchanges
        self._connection: AbstractRobustConnection | None = None

    async def connect(self) -> None:
        """Connect (retrying in the background after any later loss) and declare the exchanges
        (unless made with `declare_exchanges=False`, as operator tools are)."""
        self._connection = await connect_failover(
            self.url,
            reconnect_interval=self._reconnect_interval,
            client_properties={"connection_name": self._name},
        )
        await self.publishing.open(self._connection)
        if self._declare_exchanges:
            async with self.publishing.plain_channel() as channel:
                await self.topology.declare_exchanges(channel, self.declared)
            await self.publishing.declare_classic_queue(
                self.topology.unrouted,
                lambda channel: self.topology.declare_unrouted_queue(channel, self.declared),
            )

    async def close(self) -> None:
        """Close the connection and every channel on it (unsettled deliveries go back to their queue)."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self.publishing.closed()

    async def __aenter__(self) -> Bus:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def topology(self) -> Topology:
        return self.publishing.topology

    @property
    def declared(self) -> DeclaredNames:
        """Exchanges and queues declared through this Bus: for tests that remove what they made."""
        return self.publishing.declared

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("Bus is not connected: call `await bus.connect()` first")
        return self._connection

    @property
    def admin_channel(self) -> AbstractRobustChannel:
        return self.publishing.admin_channel

    @property
    def publisher(self) -> Publisher:
        """Confirmed, mandatory publishing of raw bodies (operator tools, tests)."""
        return self.publishing.publisher

    @property
    def is_connected(self) -> bool:
        """Whether the connection is up now (False while it is being restored): for readiness."""
        return self.publishing.is_connected

    async def ready(self) -> None:
        """Wait until the connection is up (it reconnects by itself after a loss)."""
        await self.connection.ready()

    def producer(self, *, source: str, queue: str | None = None) -> Producer:
        """A producer of events (to the events exchange) or, with `queue`, of jobs to a work queue.

        `source` is the CloudEvents source of what it sends, e.g. the service name.
        """
        return Producer(self.publishing, source=source, queue=queue)

    def consumer(
        self,
        queue: str,
        subscriptions: Sequence[Subscription[Any]],
        settings: ConsumerSettings | None = None,
        *,
        bind: bool = True,
    ) -> Consumer:
        """A consumer of `queue` (a service's queue, or a work queue with `bind=False`)."""
        return Consumer(self.publishing, queue, subscriptions, settings or ConsumerSettings(), bind=bind)
