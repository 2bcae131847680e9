"""An in-memory bus for handler tests, in the spirit of FastStream's TestBroker: no broker, same table.

```python
bus = MemoryBus(SUBSCRIPTIONS)
deps = replace(deps, outbox=bus.outbox(source="catalog"))   # what handlers send is recorded
bus.start(deps)
await bus.send(AssetReadyV1(...))
await bus.drain()                          # delivers, and delivers what the handlers sent, until quiet
assert [o.outcome for o in bus.outcomes] == ["acked", "acked"]
assert bus.sent_types() == ["media.asset.ready.v1", "catalog.content.updated.v1"]
```
Each message is delivered alone (a batch of one) with Cloudflare's attempts; one that keeps failing
is `dead-lettered` after `max_retries`, as on the broker. Delays are not waited for. What the outbox
records is kept at `add()`, not at commit: a handler that rolls back its transaction after adding an
event still shows it here. Retry delays, topology and dead-letter metadata are the real broker's and
keep their tests there (tests/integration/bus/).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codex_bus.handling import On, handle_message
from codex_bus.message import Message
from codex_contracts import Envelope, Event, new_envelope

__all__ = ["MemoryBus", "MemoryOutbox", "Outcome"]


@dataclass(frozen=True)
class Outcome:
    """How one delivery of one message ended: `acked`, `retried` or `dead-lettered`."""

    event_type: str
    message_id: str
    attempts: int
    outcome: str
    error: BaseException | None = None


class MemoryOutbox:
    """`codex_bus.Outbox`'s API; each event added is recorded and queued for delivery on `bus`."""

    def __init__(self, bus: MemoryBus, *, source: str) -> None:
        self._bus = bus
        self.source = source

    async def add(
        self,
        conn: Any,
        event: Event,
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        envelope = new_envelope(event, source=self.source, causation=causation, correlation_id=correlation_id)
        self._bus.enqueue(envelope, event)
        return envelope

    async def add_batch(
        self,
        conn: Any,
        events: Sequence[Event],
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> list[Envelope]:
        return [await self.add(conn, e, causation=causation, correlation_id=correlation_id) for e in events]


class MemoryBus:
    """Delivers events to the handlers of `routes` in process (see the module's docstring)."""

    def __init__(self, routes: Sequence[On[Any]], *, max_retries: int = 3) -> None:
        self._routes = {route.event.type_name: route for route in routes}
        self._max_retries = max_retries
        self._queue: deque[tuple[Envelope, Event, int]] = deque()
        self._deps: Any = None
        self.sent: list[Envelope] = []
        self.outcomes: list[Outcome] = []

    def outbox(self, *, source: str) -> MemoryOutbox:
        """An outbox whose events land on this bus (put it in the deps the handlers get)."""
        return MemoryOutbox(self, source=source)

    def start(self, deps: Any) -> None:
        """The deps handlers receive (built with this bus's outbox)."""
        self._deps = deps

    def enqueue(self, envelope: Envelope, event: Event) -> None:
        self.sent.append(envelope)
        if event.type_name in self._routes:
            self._queue.append((envelope, event, 1))

    async def send(self, event: Event, *, source: str = "test") -> Envelope:
        """Publish `event` as another service would; delivered on the next `drain()`."""
        envelope = new_envelope(event, source=source)
        self.enqueue(envelope, event)
        return envelope

    def sent_types(self) -> list[str]:
        return [envelope.type for envelope in self.sent]

    async def drain(self, *, max_deliveries: int = 10_000) -> None:
        """Deliver until no message is waiting (retries included)."""
        for _ in range(max_deliveries):
            if not self._queue:
                return
            envelope, event, attempts = self._queue.popleft()
            await self._deliver(envelope, event, attempts)
        raise RuntimeError(f"still delivering after {max_deliveries} deliveries: a handler loops")

    async def _deliver(self, envelope: Envelope, event: Event, attempts: int) -> None:
        message = Message(envelope, event, attempts=attempts)
        try:
            await handle_message(self._routes[envelope.type], message, self._deps)
        except Exception as exc:
            message.retry(error=exc)
        verdict = message.verdict
        if verdict is None or not verdict.retry:
            outcome, error = "acked", None
        else:
            outcome = "dead-lettered" if attempts > self._max_retries else "retried"
            error = verdict.error
        self.outcomes.append(Outcome(envelope.type, envelope.id, attempts, outcome, error))
        if outcome == "retried":
            self._queue.append((envelope, event, attempts + 1))
