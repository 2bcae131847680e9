"""Every dead-letter queue at a glance: depth, oldest message's age, failure groups.

AMQP cannot list queues, but the topology knows their names: each consuming service's queue is
`<prefix><service>` and its dead-letter queue `<prefix><service>.dlq`. The services are those of
the suite (`SUITE_QUEUES`), or whichever names the operator gives (`codex-dlq queues --queue`,
`$CODEX_DLQ_QUEUES`). A name with no queue on the broker (a service that consumes nothing, or
that has not started yet) is reported as absent, not as empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika

from codex_bus.bus import Bus
from codex_bus.dlq import DeadLetterQueue, Progress
from codex_bus.topology import Topology

__all__ = ["SUITE_QUEUES", "QueueSurvey", "dead_letter_queues", "survey"]

SUITE_QUEUES = ("auth", "upload", "media-dispatch", "catalog", "purchase")
"""The consuming queues of the suite's services (one per service, named after it)."""


@dataclass
class QueueSurvey:
    """One dead-letter queue: `groups` is None when it was not counted (too deep for a glance)."""

    queue: str
    depth: int
    oldest_at: datetime | None
    groups: int | None

    @property
    def oldest_age_s(self) -> float | None:
        if self.oldest_at is None:
            return None
        at = self.oldest_at if self.oldest_at.tzinfo else self.oldest_at.replace(tzinfo=UTC)
        return max((datetime.now(UTC) - at).total_seconds(), 0.0)


def dead_letter_queues(prefix: str, queues: Sequence[str] = SUITE_QUEUES) -> list[str]:
    """The full dead-letter queue names of `queues` (consuming queue names, unprefixed)."""
    topology = Topology(prefix=prefix)
    return [topology.dead_letter_queue(topology.queue(name)) for name in queues]


async def survey(
    bus: Bus, names: Sequence[str], *, groups_up_to: int = 10_000, progress: Progress | None = None
) -> tuple[list[QueueSurvey], list[str]]:
    """The survey of each dead-letter queue in `names` that exists (deepest first), and the names
    that do not.

    Counting groups reads the whole queue (one bounded pass), so it is skipped for a queue deeper
    than `groups_up_to`; `codex-dlq stats <queue>` counts them anyway.
    """
    found: list[QueueSurvey] = []
    absent: list[str] = []
    for name in names:
        dlq = DeadLetterQueue(bus, name)
        try:
            depth = await dlq.count()
        except aio_pika.exceptions.ChannelNotFoundEntity:
            absent.append(name)
            continue
        head = await dlq.oldest() if depth else None
        groups: int | None = 0
        if depth > groups_up_to:
            groups = None
        elif depth:
            groups = len(await dlq.stats(progress=progress))
        found.append(QueueSurvey(name, depth, head.dead_lettered_at if head else None, groups))
    found.sort(key=lambda q: -q.depth)  # the deepest first; equal ones keep the order asked
    return found, absent
