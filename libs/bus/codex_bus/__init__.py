"""Cloudflare Queues semantics on RabbitMQ: producer, consumer, outbox, inbox and dead letters.

```python
async with Bus(settings.amqp_url) as bus:
    await bus.producer(source="upload").send(UploadCompletedV1(...))
    async with bus.consumer("catalog", [subscribe(PurchaseCompletedV1, grant_access)]):
        ...
```
See libs/bus/README.md.
"""

from typing import TYPE_CHECKING, Any

from codex_bus.bus import Bus
from codex_bus.consumer import Consumer
from codex_bus.dead_letter import DeadLetter
from codex_bus.dlq import DeadLetterQueue, FailureGroup, ReplayReport
from codex_bus.errors import (
    MAX_DELAY_SECONDS,
    MAX_MESSAGE_BYTES,
    BusError,
    InvalidDelay,
    MessageTooLarge,
    PublishFailed,
    PublishRejected,
    UnroutableMessage,
)
from codex_bus.failure import Failure
from codex_bus.handling import On, bind, on
from codex_bus.inbox import INBOX_RETENTION, Inbox, prune_inbox
from codex_bus.memory import MemoryBus, MemoryOutbox, Outcome
from codex_bus.message import Message, MessageBatch
from codex_bus.outbox import Outbox
from codex_bus.producer import Producer
from codex_bus.publishing import Publishing
from codex_bus.relay import OutboxRelay, OutboxStats
from codex_bus.schema import BUS_MIGRATIONS
from codex_bus.settings import ConsumerSettings
from codex_bus.subscriptions import Handler, Subscription, subscribe
from codex_bus.topology import Topology
from codex_bus.worker import WorkerPartEnded, run_worker

if TYPE_CHECKING:
    from codex_bus.service import service_cli, service_worker

__all__ = [
    "BUS_MIGRATIONS",
    "INBOX_RETENTION",
    "MAX_DELAY_SECONDS",
    "MAX_MESSAGE_BYTES",
    "Bus",
    "BusError",
    "Consumer",
    "ConsumerSettings",
    "DeadLetter",
    "DeadLetterQueue",
    "Failure",
    "FailureGroup",
    "Handler",
    "Inbox",
    "InvalidDelay",
    "MemoryBus",
    "MemoryOutbox",
    "Message",
    "MessageBatch",
    "MessageTooLarge",
    "On",
    "Outbox",
    "OutboxRelay",
    "OutboxStats",
    "Outcome",
    "Producer",
    "PublishFailed",
    "PublishRejected",
    "Publishing",
    "ReplayReport",
    "Subscription",
    "Topology",
    "UnroutableMessage",
    "WorkerPartEnded",
    "bind",
    "on",
    "prune_inbox",
    "run_worker",
    "service_cli",
    "service_worker",
    "subscribe",
]


def __getattr__(name: str) -> Any:
    # The service kit (Litestar, aioboto3) loads only when a service asks for it, so that the
    # operators' codex-dlq starts fast.
    if name in ("service_cli", "service_worker"):
        from codex_bus import service

        return getattr(service, name)
    raise AttributeError(f"module 'codex_bus' has no attribute {name!r}")
