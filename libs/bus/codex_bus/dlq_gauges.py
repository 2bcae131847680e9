"""Prometheus gauges of dead-letter queues: how many wait, and for how long the oldest has.

A service's worker runs `watch_dead_letters` beside its consumers (run_worker's `tasks`), so that
its /metrics, and the alert rules in deploy/alerts/, see its dead-letter queue without anyone
running `codex-dlq`:

```python
await run_worker(bus, relays=[...], consumers=[consumer], tasks={
    "dead-letter-gauges": lambda: watch_dead_letters(bus, [consumer.dead_letter_queue]),
})
```
Each round costs one passive declare and one `basic.get` per queue, whatever the depth: the age
is read from the message at the head (the oldest: dead letters arrive in order, and every
`codex-dlq` pass puts the queue back in order), which is then returned to its place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime

import aio_pika
import structlog
from prometheus_client import Gauge

from codex_bus.bus import Bus
from codex_bus.dlq import DeadLetterQueue

__all__ = ["DEAD_LETTER_DEPTH", "DEAD_LETTER_OLDEST_AGE", "measure_dead_letters", "watch_dead_letters"]

_log = structlog.stdlib.get_logger("codex_bus")

DEAD_LETTER_DEPTH = Gauge(
    "codex_bus_dead_letter_depth",
    "Messages waiting in a dead-letter queue (ready, not in a codex-dlq pass).",
    ["queue"],
)
DEAD_LETTER_OLDEST_AGE = Gauge(
    "codex_bus_dead_letter_oldest_age_seconds",
    "How long the oldest message of a dead-letter queue has waited there (0 when empty).",
    ["queue"],
)


async def measure_dead_letters(bus: Bus, queues: Sequence[str]) -> None:
    """Set the gauges of `queues` (full names) once. A queue that does not exist (its consumer has
    not declared it yet) has no samples rather than a misleading 0."""
    for name in queues:
        dlq = DeadLetterQueue(bus, name)
        try:
            depth = await dlq.count()
            head = await dlq.oldest() if depth else None
        except aio_pika.exceptions.ChannelNotFoundEntity:
            for gauge in (DEAD_LETTER_DEPTH, DEAD_LETTER_OLDEST_AGE):
                with contextlib.suppress(KeyError):
                    gauge.remove(name)
            continue
        DEAD_LETTER_DEPTH.labels(name).set(depth)
        at = head.dead_lettered_at if head is not None else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # our header is UTC; a hand-made one may name no zone
        age = (datetime.now(UTC) - at).total_seconds() if at is not None else 0.0
        DEAD_LETTER_OLDEST_AGE.labels(name).set(max(age, 0.0))


async def watch_dead_letters(bus: Bus, queues: Sequence[str], *, interval_s: float = 15.0) -> None:
    """Measure `queues` every `interval_s` seconds until cancelled.

    `bus` must be connected (run_worker connects it before starting its tasks). A round that fails
    (the broker away, a channel error) is logged and skipped: the loop itself never ends on its
    own, since run_worker ends the whole worker when one of its tasks does.
    """
    while True:
        try:
            await measure_dead_letters(bus, queues)
        except (OSError, RuntimeError, aio_pika.exceptions.AMQPError) as exc:
            _log.warning("bus.dead_letter_gauges_failed", queues=list(queues), error_type=type(exc).__name__)
        await asyncio.sleep(interval_s)
