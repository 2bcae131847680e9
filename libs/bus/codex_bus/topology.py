"""Names and declarations of the exchanges and queues of the bus; every declaration is idempotent.

```
 producer ──(routing key = event type)──► <p>codex.events (topic) ──► <p><service>  (quorum, one per service)
                                                                         ▲ │ consumer retry / dead letter
 delayed send ─► <p>codex.events.delayed (headers) ─► <p>codex.events.delayed.<ms> (TTL)      │
     dead-letters, with its own routing key, to ─► <p>codex.events.due (topic) ─┘ (same bindings)
     no queue takes its type then? the due exchange's alternate exchange parks it in
     <p>codex.events.unrouted (classic), where codex-dlq reads it: nothing is dropped
 retry ─► (default exchange) ─► <queue>.delay.<ms> (TTL) ─► dead-letters to <queue> only
 dead letter ─► (default exchange) ─► <queue>.dlq (classic)
 work job ─► (default exchange, routing key = queue) ─► <p><work queue> (quorum)
```
A direct send that no queue takes is returned (mandatory) and raised at send. A delayed send is
taken by its TTL queue at once, so the check can only happen when it falls due: hence the due
exchange, whose alternate exchange keeps only messages marked delayed (`codex-delayed` header).

Retries go through the default exchange to one queue, never back through the topic exchange, so a
message retried by one service is not delivered again to the other services bound to its type.
Delay queues have a per-queue TTL (every message in one expires after the same time, so the head
always expires first) and an `x-expires` well beyond that TTL, so that queues of delays no longer
used disappear without ever dropping a waiting message. They are quorum queues with at-least-once
dead-lettering (RabbitMQ >= 3.10): an expiring message leaves only once its target queue has it,
and it survives the loss of a cluster node, which a classic queue's dead-lettering does not promise.
Consuming queues carry an explicit `x-delivery-limit` (`DELIVERY_LIMIT`): the consumer dead-letters
a message that keeps coming back itself, with its metadata; the broker's limit is the last guard
for one that crashes the consumer every time, whatever the broker counts as a delivery.
Dead-letter queues stay classic: the dead-letter gauge reads the head message and puts it back, which
a quorum queue would count as a failed delivery (and RabbitMQ 4 drops after its default limit of 20);
codex-dlq reads them in one bounded pass that re-publishes each message behind the others (dlq_scan.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue

__all__ = ["DELAYED_HEADER", "DELAY_HEADER", "DELIVERY_LIMIT", "DeclaredNames", "Topology"]

# Header on delayed events that the delay exchange (headers type) routes on.
DELAY_HEADER = "codex-delay-ms"
# Header on every delayed event: the unrouted exchange keeps only messages that carry it.
DELAYED_HEADER = "codex-delayed"
# Deliveries of one copy of a message that a consuming queue allows before the broker itself
# dead-letters it (to the dead-letter queue, without our metadata). Far above what our own
# accounting reaches for a message that fails cleanly (`max_retries` counts copies, not deliveries).
DELIVERY_LIMIT = 20

# A delay queue outlives its TTL by this much after its last declaration (see Bus.ensure_delay_queue).
_DELAY_QUEUE_GRACE_MS = 60 * 60 * 1000


@dataclass
class DeclaredNames:
    """Exchanges and queues declared through one Bus: for tests that remove what they made."""

    exchanges: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Topology:
    """The names of the bus's exchanges and queues; `prefix` isolates environments and tests."""

    prefix: str = ""

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}codex.events"

    @property
    def delay_exchange(self) -> str:
        return f"{self.prefix}codex.events.delayed"

    @property
    def due_exchange(self) -> str:
        """Where delayed events go when they fall due: bound like the events exchange."""
        return f"{self.prefix}codex.events.due"

    @property
    def unrouted(self) -> str:
        """The exchange and the (classic) queue of delayed events that no queue took when due."""
        return f"{self.prefix}codex.events.unrouted"

    def queue(self, name: str) -> str:
        """The full name of a consuming service's queue or of a work queue."""
        return f"{self.prefix}{name}"

    def dead_letter_queue(self, queue: str, override: str | None = None) -> str:
        """The dead-letter queue of a full queue name: `<queue>.dlq` unless named otherwise."""
        return self.queue(override) if override else f"{queue}.dlq"

    def queue_delay_queue(self, queue: str, delay_ms: int) -> str:
        """The TTL queue that holds messages for `queue` (retries, delayed jobs) for `delay_ms`."""
        return f"{queue}.delay.{delay_ms}"

    def event_delay_queue(self, delay_ms: int) -> str:
        """The TTL queue that holds delayed events for `delay_ms` before they reach the exchange."""
        return f"{self.delay_exchange}.{delay_ms}"

    # -- declarations ----------------------------------------------------------------------------

    async def declare_exchanges(self, channel: AbstractChannel, names: DeclaredNames) -> None:
        """The durable topic exchange of events, the headers exchange of delayed events, the
        exchange where they fall due, and the alternate exchange of that one."""
        await channel.declare_exchange(self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        await channel.declare_exchange(self.delay_exchange, aio_pika.ExchangeType.HEADERS, durable=True)
        await channel.declare_exchange(self.unrouted, aio_pika.ExchangeType.HEADERS, durable=True)
        await channel.declare_exchange(
            self.due_exchange,
            aio_pika.ExchangeType.TOPIC,
            durable=True,
            arguments={"alternate-exchange": self.unrouted},
        )
        names.exchanges.update((self.events_exchange, self.delay_exchange, self.due_exchange, self.unrouted))

    async def declare_unrouted_queue(self, channel: AbstractChannel, names: DeclaredNames) -> None:
        """The classic queue that parks delayed events no queue took when due (only those: the
        binding matches the delayed mark, so a direct send that nothing takes is still returned)."""
        parked = await channel.declare_queue(self.unrouted, durable=True)
        await parked.bind(self.unrouted, routing_key="", arguments={"x-match": "all", DELAYED_HEADER: "1"})
        names.queues.add(self.unrouted)

    async def declare_queue(
        self,
        channel: AbstractChannel,
        queue: str,
        *,
        dead_letter_queue: str,
        event_types: tuple[str, ...] = (),
        names: DeclaredNames,
        delivery_limit: int | None = DELIVERY_LIMIT,
        with_dead_letter_queue: bool = True,
    ) -> AbstractQueue:
        """A consuming queue (quorum) with its dead-letter queue, bound to `event_types` if any
        (on the events exchange and on the due exchange of delayed events).

        The broker-side dead-letter arguments matter only for what the broker itself dead-letters
        (the delivery limit); our own dead letters, with their failure metadata, are published by
        the consumer. `delivery_limit=None` declares a queue made before the limit existed (the
        broker refuses a declaration whose arguments differ from the queue's).
        `with_dead_letter_queue=False` leaves the dead-letter queue to the caller (see Consumer).
        """
        if with_dead_letter_queue:
            await channel.declare_queue(dead_letter_queue, durable=True)
        declared = await channel.declare_queue(
            queue, durable=True, arguments=self.queue_arguments(dead_letter_queue, delivery_limit)
        )
        names.queues.update((queue, dead_letter_queue))
        for event_type in event_types:
            await declared.bind(self.events_exchange, routing_key=event_type)
            await declared.bind(self.due_exchange, routing_key=event_type)
        return declared

    @staticmethod
    def queue_arguments(
        dead_letter_queue: str, delivery_limit: int | None = DELIVERY_LIMIT
    ) -> dict[str, Any]:
        """The arguments of a consuming queue."""
        arguments: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_queue,
        }
        if delivery_limit is not None:
            arguments["x-delivery-limit"] = delivery_limit
        return arguments

    async def declare_queue_delay(
        self, channel: AbstractChannel, queue: str, delay_ms: int, names: DeclaredNames
    ) -> str:
        """The TTL queue that dead-letters into `queue` (through the default exchange) after `delay_ms`."""
        name = self.queue_delay_queue(queue, delay_ms)
        await channel.declare_queue(
            name,
            durable=True,
            arguments={
                **_delay_arguments(delay_ms),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue,
            },
        )
        names.queues.add(name)
        return name

    async def declare_event_delay(self, channel: AbstractChannel, delay_ms: int, names: DeclaredNames) -> str:
        """The TTL queue of delayed events; with no dead-letter routing key each expired message
        keeps its own routing key (its event type) when it reaches the due exchange."""
        name = self.event_delay_queue(delay_ms)
        declared = await channel.declare_queue(
            name,
            durable=True,
            arguments={**_delay_arguments(delay_ms), "x-dead-letter-exchange": self.due_exchange},
        )
        await declared.bind(
            self.delay_exchange, routing_key="", arguments={"x-match": "all", DELAY_HEADER: str(delay_ms)}
        )
        names.queues.add(name)
        return name


def _delay_arguments(delay_ms: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": delay_ms,
        "x-expires": delay_ms + _DELAY_QUEUE_GRACE_MS,
        # at-least-once dead-lettering requires reject-publish overflow (no length limit is set).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
