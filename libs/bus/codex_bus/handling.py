"""A service's subscription table in its own terms: `on(Event, handler)`, each handler a plain function.

```python
SUBSCRIPTIONS = [
    on(AssetReadyV1, record_asset_ready, inbox="catalog.assets"),   # handler(message, *, conn, deps)
    on(UploadCompletedV1, create_asset),                            # handler(message, *, deps)
]
```
With `inbox`, the handler runs inside a transaction that also records the message id (codex_bus.Inbox),
so a redelivered or replayed message has no second effect; it gets that transaction's connection.
Without, the handler makes itself idempotent. Each message is settled on its own: one that raises is
retried (then dead-lettered) without its batch-mates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from codex_bus.inbox import Inbox
from codex_bus.message import Message, MessageBatch
from codex_bus.subscriptions import Subscription, subscribe
from codex_contracts import Event

__all__ = ["On", "bind", "on"]

E = TypeVar("E", bound=Event)

_log = structlog.stdlib.get_logger("codex_bus.handling")


@dataclass(frozen=True)
class On(Generic[E]):
    """One row: messages of `event` go to `handler`, inside an inbox transaction when `inbox` names one."""

    event: type[E]
    handler: Callable[..., Awaitable[None]]
    inbox: str | None = None


def on(event: type[E], handler: Callable[..., Awaitable[None]], *, inbox: str | None = None) -> On[E]:
    """A row of the subscription table."""
    return On(event, handler, inbox)


async def handle_message(route: On[Any], message: Message[Any], deps: Any) -> None:
    """Run `route`'s handler on one message (in its inbox transaction when it has one)."""
    if route.inbox is None:
        await route.handler(message, deps=deps)
        return
    async with deps.pool.acquire() as conn, Inbox(route.inbox).transaction(conn, message) as fresh:
        if fresh:
            await route.handler(message, conn=conn, deps=deps)
        else:
            _log.info("message_already_handled", message_id=message.id, inbox=route.inbox)


def _batch_handler(route: On[E], deps: Any) -> Callable[[MessageBatch[E]], Awaitable[None]]:
    async def handle(batch: MessageBatch[E]) -> None:
        for message in batch:
            try:
                await handle_message(route, message, deps)
            except Exception as exc:
                _log.warning(
                    "message_failed",
                    event_type=message.type,
                    message_id=message.id,
                    attempts=message.attempts,
                    error_type=type(exc).__name__,
                    error=str(exc)[:300],
                )
                message.retry(error=exc)
            else:
                message.ack()

    handle.__name__ = getattr(route.handler, "__name__", "handler")
    return handle


def bind(routes: Sequence[On[Any]], deps: Any) -> list[Subscription[Any]]:
    """The bus's subscriptions for `routes`, each handler given `deps`."""
    return [subscribe(route.event, _batch_handler(route, deps)) for route in routes]
