"""The subscription table: which event type goes to which handler, declared in one place.

```python
SUBSCRIPTIONS = [
    subscribe(PurchaseCompletedV1, grant_access),
    subscribe(PurchaseRefundedV1, revoke_access),
]
```
The consuming queue is bound to exactly these types.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from codex_bus.message import MessageBatch
from codex_contracts import Event

__all__ = ["Handler", "Subscription", "subscribe", "subscription_table"]

E = TypeVar("E", bound=Event)

Handler = Callable[[MessageBatch[E]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """One row of the table: batches of `event` go to `handler`."""

    event: type[E]
    handler: Handler[E]

    @property
    def event_type(self) -> str:
        return self.event.type_name


def subscribe(event: type[E], handler: Handler[E]) -> Subscription[E]:
    """A typed row of the subscription table."""
    return Subscription(event, handler)


def subscription_table(subscriptions: Sequence[Subscription[Any]]) -> dict[str, Subscription[Any]]:
    """The table by event type; raises `ValueError` when a type appears twice or not at all."""
    table: dict[str, Subscription[Any]] = {}
    for row in subscriptions:
        if row.event_type in table:
            raise ValueError(f"{row.event_type} is subscribed twice; one handler per type and queue")
        table[row.event_type] = row
    if not table:
        raise ValueError("a consumer needs at least one subscription")
    return table
