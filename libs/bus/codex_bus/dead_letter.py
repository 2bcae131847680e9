"""A dead letter as read back from a dead-letter queue: the message and why it failed."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from aio_pika.abc import AbstractIncomingMessage

from codex_bus import headers as h

__all__ = ["PASS_MARK", "DeadLetter"]

PASS_MARK = "codex-dlq-pass"  # noqa: S105 - a header name
"""Header on the copies a `codex-dlq` pass puts back at the tail (see dlq_scan): ours, not the
message's, so a dead letter read back never shows it and a replayed copy never carries it."""


def _time(value: Any) -> datetime | None:
    text = h.as_str(value)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """Header values as JSON-friendly Python values (AMQP tables hold bytes, datetimes, nested tables)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message with the failure metadata the consumer attached to it."""

    message_id: str
    event_type: str
    source_queue: str
    routing_key: str
    reason: str
    error_type: str
    error_message: str
    error_location: str
    fingerprint: str
    attempts: int
    replays: int
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    dead_lettered_at: datetime | None
    headers: dict[str, Any]
    body: bytes

    @classmethod
    def from_incoming(cls, message: AbstractIncomingMessage) -> DeadLetter:
        """Read a message taken from a dead-letter queue.

        A message the broker dead-lettered by itself (RabbitMQ 4's delivery limit) has no failure
        headers of ours; its source queue, routing key and reason then come from `x-death`.
        """
        headers = {str(k): _plain(v) for k, v in (message.headers or {}).items() if k != PASS_MARK}
        death = _first_death(headers)
        source = h.as_str(headers.get(h.SOURCE_QUEUE)) or h.as_str(death.get("queue")) or ""
        keys = death.get("routing-keys") or [message.routing_key or ""]
        routing_key = h.as_str(headers.get(h.ROUTING_KEY)) or h.as_str(keys[0]) or ""
        return cls(
            message_id=message.message_id or "",
            event_type=message.type or routing_key,
            source_queue=source,
            routing_key=routing_key,
            reason=h.as_str(headers.get(h.REASON)) or h.as_str(death.get("reason")) or "unknown",
            error_type=h.as_str(headers.get(h.ERROR_TYPE)) or "unknown",
            error_message=h.as_str(headers.get(h.ERROR_MESSAGE)) or "",
            error_location=h.as_str(headers.get(h.ERROR_LOCATION)) or "",
            fingerprint=h.as_str(headers.get(h.FINGERPRINT)) or "none",
            attempts=h.as_int(headers.get(h.ATTEMPTS), 1),
            replays=h.as_int(headers.get(h.REPLAYS)),
            first_failure_at=_time(headers.get(h.FIRST_FAILURE_AT)),
            last_failure_at=_time(headers.get(h.LAST_FAILURE_AT)),
            dead_lettered_at=_time(headers.get(h.DEAD_LETTERED_AT)) or _time(death.get("time")),
            headers=headers,
            body=message.body,
        )

    def body_json(self) -> Any | None:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return msgspec.json.decode(self.body)
        except msgspec.DecodeError:
            return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly record (export, `show`): the body as JSON, or base64 when it is not."""
        record: dict[str, Any] = {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "source_queue": self.source_queue,
            "routing_key": self.routing_key,
            "reason": self.reason,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "error_location": self.error_location,
            "fingerprint": self.fingerprint,
            "attempts": self.attempts,
            "replays": self.replays,
            "first_failure_at": self.first_failure_at.isoformat() if self.first_failure_at else None,
            "last_failure_at": self.last_failure_at.isoformat() if self.last_failure_at else None,
            "dead_lettered_at": self.dead_lettered_at.isoformat() if self.dead_lettered_at else None,
            "headers": self.headers,
        }
        parsed = self.body_json()
        if parsed is not None:
            record["body"] = parsed
        else:
            record["body_base64"] = base64.b64encode(self.body).decode()
        return record


def _first_death(headers: Mapping[str, Any]) -> Mapping[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        return deaths[0]
    return {}
