"""Names and declarations of the exchanges and queues of the bus; every declaration is idempotent.

```
 producer ──(routing key = event type)──► <p>codex.events (topic) ──► <p><service>  (quorum, one per service)
                                                                         │ consumer retry / dead letter
 delayed send ─► <p>codex.events.delay (headers) ─► <p>codex.events.delay.<ms> (TTL) ─┘ dead-letters back
                                                    to codex.events with its own routing key
 retry ─► (default exchange) ─► <queue>.delay.<ms> (TTL) ─► dead-letters to <queue> only
 dead letter ─► (default exchange) ─► <queue>.dlq (classic)
 work job ─► (default exchange, routing key = queue) ─► <p><work queue> (quorum)
```

Retries go through the default exchange to one queue, never back through the topic exchange, so a
message retried by one service is not delivered again to the other services bound to its type.
Delay queues have a per-queue TTL (every message in one expires after the same time, so the head
always expires first) and an `x-expires` well beyond that TTL, so that queues of delays no longer
used disappear without ever dropping a waiting message. They are quorum queues with at-least-once
dead-lettering (RabbitMQ >= 3.10): an expiring message leaves only once its target queue has it,
and it survives the loss of a cluster node, which a classic queue's dead-lettering does not promise.
Dead-letter queues stay classic: the CLI browses them by taking and returning messages, which a
quorum queue counts as failed deliveries (and RabbitMQ 4 drops after its default limit of 20).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractQueue

__all__ = ["DELAY_HEADER", "DeclaredNames", "Topology"]

# Header on delayed events that the delay exchange (headers type) routes on.
DELAY_HEADER = "codex-delay-ms"

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
        return f"{self.prefix}codex.events.delay"

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
        return f"{self.events_exchange}.delay.{delay_ms}"

    # -- declarations ----------------------------------------------------------------------------

    async def declare_exchanges(self, channel: AbstractChannel, names: DeclaredNames) -> None:
        """The durable topic exchange of events and the headers exchange of delayed events."""
        await channel.declare_exchange(self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        await channel.declare_exchange(self.delay_exchange, aio_pika.ExchangeType.HEADERS, durable=True)
        names.exchanges.update((self.events_exchange, self.delay_exchange))

    async def declare_queue(
        self,
        channel: AbstractChannel,
        queue: str,
        *,
        dead_letter_queue: str,
        event_types: tuple[str, ...] = (),
        names: DeclaredNames,
    ) -> AbstractQueue:
        """A consuming queue (quorum) with its dead-letter queue, bound to `event_types` if any.

        The broker-side dead-letter arguments matter only for what the broker itself dead-letters
        (RabbitMQ 4's default delivery limit of quorum queues); our own dead letters, with their
        failure metadata, are published by the consumer.
        """
        await channel.declare_queue(dead_letter_queue, durable=True)
        declared = await channel.declare_queue(
            queue,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": dead_letter_queue,
            },
        )
        names.queues.update((queue, dead_letter_queue))
        for event_type in event_types:
            await declared.bind(self.events_exchange, routing_key=event_type)
        return declared

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
        keeps its own routing key (its event type) when it reaches the events exchange."""
        name = self.event_delay_queue(delay_ms)
        declared = await channel.declare_queue(
            name,
            durable=True,
            arguments={**_delay_arguments(delay_ms), "x-dead-letter-exchange": self.events_exchange},
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
