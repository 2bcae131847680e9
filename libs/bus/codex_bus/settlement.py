"""Settling deliveries: ack, retry through a delay queue, or dead-letter with failure metadata.

A retry or a dead letter is a copy published (with confirm) before the original is acked, so a
crash between the two duplicates a message but never loses one: handlers are idempotent (inbox).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage

from codex_bus import headers as h
from codex_bus.acks import DeliveryTracker
from codex_bus.errors import UnroutableMessage
from codex_bus.failure import Failure
from codex_bus.metrics import DEAD_LETTERED, RETRIED
from codex_bus.publishing import Publishing

__all__ = ["Settlement"]

log = structlog.stdlib.get_logger("codex_bus")


@dataclass(slots=True)
class _Copy:
    incoming: AbstractIncomingMessage
    event_type: str
    attempts: int
    failure: Failure
    delay_seconds: int = 0
    reason: str | None = None  # set for a dead letter


@dataclass
class Settlement:
    """The settlements decided for one batch, applied together by `apply()`."""

    publishing: Publishing
    queue: str
    dead_letter_queue: str
    max_retries: int
    acks: list[AbstractIncomingMessage] = field(default_factory=list)
    copies: list[_Copy] = field(default_factory=list)

    def ack(self, incoming: AbstractIncomingMessage) -> None:
        self.acks.append(incoming)

    def retry(
        self, incoming: AbstractIncomingMessage, event_type: str, attempts: int, failure: Failure, delay: int
    ) -> None:
        """Retry after `delay` seconds, or dead-letter when this was the last allowed attempt."""
        if attempts > self.max_retries:
            self.dead_letter(incoming, event_type, attempts, failure, reason="max_retries")
        else:
            self.copies.append(_Copy(incoming, event_type, attempts, failure, delay_seconds=delay))

    def dead_letter(
        self,
        incoming: AbstractIncomingMessage,
        event_type: str,
        attempts: int,
        failure: Failure,
        *,
        reason: str,
    ) -> None:
        self.copies.append(_Copy(incoming, event_type, attempts, failure, reason=reason))

    async def apply(self, tracker: DeliveryTracker) -> None:
        """Publish the copies, then ack what is settled; a copy that failed goes back unsettled."""
        results = await asyncio.gather(*(self._publish(c) for c in self.copies), return_exceptions=True)
        for copy, result in zip(self.copies, results, strict=True):
            if isinstance(result, BaseException):
                log.warning(
                    "bus.settle_failed",
                    message_id=copy.incoming.message_id,
                    queue=self.queue,
                    error=f"{type(result).__name__}: {result}",
                )
                tracker.forget([copy.incoming])
                await _quietly(copy.incoming.nack(requeue=True))
            else:
                self.acks.append(copy.incoming)
        await tracker.ack(self.acks)

    async def _publish(self, copy: _Copy) -> None:
        incoming = copy.incoming
        now = datetime.now(UTC).isoformat()
        headers: dict[str, Any] = h.copyable(incoming.headers)
        headers.setdefault(h.FIRST_FAILURE_AT, now)
        headers.setdefault(h.SOURCE_QUEUE, self.queue)
        headers.setdefault(h.ROUTING_KEY, incoming.routing_key or "")
        headers[h.LAST_FAILURE_AT] = now
        headers[h.ERROR_TYPE] = copy.failure.error_type
        headers[h.ERROR_MESSAGE] = copy.failure.message
        headers[h.ERROR_LOCATION] = copy.failure.location
        headers[h.FINGERPRINT] = copy.failure.fingerprint
        message_id = incoming.message_id or str(uuid.uuid4())
        fields = {
            "message_id": message_id,
            "type": copy.event_type,
            "attempts": copy.attempts,
            "error_type": copy.failure.error_type,
            "error": copy.failure.message,
            "queue": self.queue,
        }
        if copy.reason is None:
            headers[h.ATTEMPTS] = copy.attempts + 1
            delay_ms = copy.delay_seconds * 1000
            routing_key = self.queue
            if delay_ms:
                routing_key = await self.publishing.ensure_queue_delay(self.queue, delay_ms)
            try:
                await self._send(incoming, message_id, copy.event_type, routing_key, headers)
            except UnroutableMessage:
                if not delay_ms:
                    raise
                # The delay queue went away since we declared it (deleted, or expired): again, once.
                routing_key = await self.publishing.ensure_queue_delay(self.queue, delay_ms, force=True)
                await self._send(incoming, message_id, copy.event_type, routing_key, headers)
            RETRIED.labels(self.queue, copy.event_type).inc()
            log.warning("bus.message_retried", delay_seconds=copy.delay_seconds, **fields)
        else:
            headers[h.ATTEMPTS] = copy.attempts
            headers[h.DEAD_LETTERED_AT] = now
            headers[h.REASON] = copy.reason
            try:
                await self._send(incoming, message_id, copy.event_type, self.dead_letter_queue, headers)
            except UnroutableMessage:
                # The dead-letter queue was deleted since the consumer started: declare it again
                # and send once more, rather than hand the message back to loop on the same error.
                dlq = self.dead_letter_queue
                await self.publishing.declare_classic_queue(
                    dlq, lambda ch: ch.declare_queue(dlq, durable=True)
                )
                await self._send(incoming, message_id, copy.event_type, dlq, headers)
            DEAD_LETTERED.labels(self.queue, copy.event_type, copy.reason).inc()
            log.error(
                "bus.message_dead_lettered",
                reason=copy.reason,
                fingerprint=copy.failure.fingerprint,
                dead_letter_queue=self.dead_letter_queue,
                **fields,
            )

    async def _send(
        self,
        incoming: AbstractIncomingMessage,
        message_id: str,
        event_type: str,
        routing_key: str,
        headers: dict[str, Any],
    ) -> None:
        timestamp = incoming.timestamp if isinstance(incoming.timestamp, datetime) else None
        await self.publishing.publisher.publish(
            incoming.body,
            exchange="",
            routing_key=routing_key,
            message_id=message_id,
            event_type=event_type,
            headers=headers,
            timestamp=timestamp,
        )


async def _quietly(settle: Any) -> None:
    # Settling on a channel that died with its connection fails; the broker has already put those
    # deliveries back in the queue, so they will come again.
    try:
        await settle
    except Exception as exc:
        log.debug("bus.settle_skipped", error=f"{type(exc).__name__}: {exc}")
