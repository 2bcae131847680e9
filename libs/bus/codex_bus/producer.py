"""The producer: `send(event)` and `send_batch(events)`, as Cloudflare Queues' producer binding."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from codex_bus.errors import check_delay, encode_checked
from codex_bus.publishing import Publishing
from codex_contracts import Envelope, Event, new_envelope

__all__ = ["Producer"]


class Producer:
    """Sends events to the events exchange, or jobs to one work queue; made by `Bus.producer`.

    Each call returns once the broker has confirmed every message to disk. Messages are
    persistent and mandatory: a message that no queue takes raises `UnroutableMessage`.
    """

    def __init__(
        self, publishing: Publishing, *, source: str, queue: str | None = None, publish_timeout: float = 30.0
    ):
        self._publishing = publishing
        self.source = source
        self.queue = queue
        self._publish_timeout = publish_timeout

    async def send(
        self,
        event: Event,
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        """Send one event, delivered after `delay_seconds` (0..43200); returns its envelope.

        `causation` is the envelope of the message being handled, if any: the new event then
        carries its correlation id and names it as its cause.
        """
        check_delay(delay_seconds)
        envelope = new_envelope(event, source=self.source, causation=causation, correlation_id=correlation_id)
        await self._publish(envelope, encode_checked(envelope), delay_seconds)
        return envelope

    async def send_batch(
        self,
        events: Sequence[Event],
        *,
        delay_seconds: int = 0,
        causation: Envelope | None = None,
        correlation_id: str | None = None,
    ) -> list[Envelope]:
        """Send several events at once, all confirmed on return; none is sent if one is too large.

        When some publishes fail the first error is raised after the others have finished; the
        ones that succeeded stay sent, so a caller that retries the batch may send them twice.
        """
        check_delay(delay_seconds)
        envelopes = [
            new_envelope(e, source=self.source, causation=causation, correlation_id=correlation_id)
            for e in events
        ]
        bodies = [encode_checked(envelope) for envelope in envelopes]
        results = await asyncio.gather(
            *(
                self._publish(envelope, body, delay_seconds)
                for envelope, body in zip(envelopes, bodies, strict=True)
            ),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            first = errors[0]
            first.add_note(f"{len(errors)} of {len(envelopes)} messages of the batch were not sent")
            raise first
        return envelopes

    async def send_envelope(self, envelope: Envelope, *, delay_seconds: int = 0) -> None:
        """Send an envelope built elsewhere (keeps its id, e.g. when forwarding)."""
        await self._publish(envelope, encode_checked(envelope), check_delay(delay_seconds))

    async def _publish(self, envelope: Envelope, body: bytes, delay_seconds: int) -> None:
        await self._publishing.publish_event(
            body,
            message_id=envelope.id,
            event_type=envelope.type,
            timestamp=envelope.time,
            queue=self.queue,
            delay_seconds=delay_seconds,
            reconnect_timeout=self._publish_timeout,
        )
