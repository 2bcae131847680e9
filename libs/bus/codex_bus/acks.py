"""Acks for whole batches: one `basic.ack(multiple=True)` instead of one frame per message.

A multiple ack settles every unsettled delivery of the channel up to its tag, so it is sent only
when no delivery with a lower tag is still pending (in a batch still running, or waiting in the
buffer); otherwise each message is acked alone. Tags are per channel, and a channel that died
with its connection takes its deliveries with it (the broker requeued them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage

__all__ = ["DeliveryTracker"]

log = structlog.stdlib.get_logger("codex_bus")


class DeliveryTracker:
    """Delivery tags received and not yet settled, per channel."""

    def __init__(self) -> None:
        self._pending: dict[Any, set[int]] = {}

    def received(self, incoming: AbstractIncomingMessage) -> None:
        if incoming.delivery_tag is not None:
            self._pending.setdefault(incoming.channel, set()).add(incoming.delivery_tag)

    def forget(self, deliveries: Iterable[AbstractIncomingMessage]) -> None:
        """Deliveries settled some other way (nacked), or lost with their channel."""
        for incoming in deliveries:
            self._pending.get(incoming.channel, set()).discard(incoming.delivery_tag or 0)
        for channel in [c for c, tags in self._pending.items() if not tags or c.is_closed]:
            del self._pending[channel]

    def pending(self, deliveries: Iterable[AbstractIncomingMessage]) -> list[AbstractIncomingMessage]:
        """Those of `deliveries` not settled yet."""
        return [d for d in deliveries if d.delivery_tag in self._pending.get(d.channel, ())]

    async def ack(self, deliveries: Sequence[AbstractIncomingMessage]) -> None:
        """Ack these deliveries, with one frame per channel when that is safe.

        A channel that fails here died with its connection: its deliveries are already back in
        the queue, so the failure is only logged."""
        by_channel: dict[Any, list[AbstractIncomingMessage]] = {}
        for incoming in deliveries:
            by_channel.setdefault(incoming.channel, []).append(incoming)
        self.forget(deliveries)
        for channel, group in by_channel.items():
            top = max(incoming.delivery_tag or 0 for incoming in group)
            pending = self._pending.get(channel)
            try:
                if len(group) > 1 and (not pending or min(pending) > top):
                    await channel.basic_ack(top, multiple=True)
                else:
                    for incoming in group:
                        await incoming.ack()
            except Exception as exc:
                log.debug("bus.ack_skipped", error=f"{type(exc).__name__}: {exc}")
