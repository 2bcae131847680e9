"""What a handler receives: a `MessageBatch` of `Message`s, as in Cloudflare Queues.

Each message is settled once, when the handler has finished: acked, or retried (and, after its
last attempt, dead-lettered). The rules:

- the first call on a message wins (`ack()` then `retry()`: acked);
- a call on a message takes precedence over `ack_all()` / `retry_all()`, whatever the order;
- the first of `ack_all()` / `retry_all()` wins for the messages not handled one by one;
- returning normally acks every message with no decision;
- raising retries every message with no decision (messages already acked or retried, one by one
  or through `ack_all()` / `retry_all()`, keep that decision).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from codex_bus.errors import check_delay
from codex_contracts import Envelope, Event

__all__ = ["Message", "MessageBatch", "Verdict"]

E = TypeVar("E", bound=Event, covariant=True)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The settlement of one message: ack, or retry after `delay_seconds` (None: the consumer's)."""

    retry: bool
    delay_seconds: int | None = None
    error: BaseException | None = None


_ACK = Verdict(retry=False)


class Message(Generic[E]):
    """One message: `id`, `timestamp` (when it was sent), `body` (the event), `attempts` (from 1)."""

    __slots__ = ("_verdict", "attempts", "body", "envelope", "id", "raw", "timestamp")

    def __init__(self, envelope: Envelope, body: E, *, attempts: int = 1, raw: Any = None) -> None:
        self.envelope = envelope
        self.id: str = envelope.id
        self.timestamp: datetime = envelope.time
        self.body: E = body
        self.attempts = attempts
        self.raw = raw
        self._verdict: Verdict | None = None

    @property
    def type(self) -> str:
        """The versioned event type, e.g. `upload.completed.v1`."""
        return self.envelope.type

    def ack(self) -> None:
        """Mark the message handled; ignored if it was already acked or retried."""
        if self._verdict is None:
            self._verdict = _ACK

    def retry(self, delay_seconds: int | None = None, *, error: BaseException | None = None) -> None:
        """Ask for another attempt after `delay_seconds` (default: the consumer's `retry_delay`).

        Ignored if the message was already acked or retried. `error` is what its dead letter will
        report if this was the last attempt; called inside an `except` block it is that exception.
        """
        if delay_seconds is not None:
            check_delay(delay_seconds)
        if self._verdict is None:
            self._verdict = Verdict(retry=True, delay_seconds=delay_seconds, error=error or sys.exception())

    @property
    def verdict(self) -> Verdict | None:
        """The decision taken on this message so far, if any."""
        return self._verdict

    def __repr__(self) -> str:
        return f"<Message {self.type} id={self.id} attempts={self.attempts}>"


class MessageBatch(Generic[E]):
    """The messages of one delivery to a handler, all of one event type, from `queue`."""

    __slots__ = ("_verdict", "messages", "queue")

    def __init__(self, queue: str, messages: Sequence[Message[E]]) -> None:
        self.queue = queue
        self.messages: Sequence[Message[E]] = messages
        self._verdict: Verdict | None = None

    def ack_all(self) -> None:
        """Ack every message not acked or retried one by one."""
        if self._verdict is None:
            self._verdict = _ACK

    def retry_all(self, delay_seconds: int | None = None, *, error: BaseException | None = None) -> None:
        """Retry every message not acked or retried one by one, after `delay_seconds`."""
        if delay_seconds is not None:
            check_delay(delay_seconds)
        if self._verdict is None:
            self._verdict = Verdict(retry=True, delay_seconds=delay_seconds, error=error or sys.exception())

    def resolve(self, raised: BaseException | None) -> list[tuple[Message[E], Verdict]]:
        """Each message with its final verdict, once the handler returned or raised `raised`."""
        fallback = self._verdict or (Verdict(retry=True, error=raised) if raised is not None else _ACK)
        return [(m, m.verdict or fallback) for m in self.messages]

    def __iter__(self) -> Iterator[Message[E]]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def __repr__(self) -> str:
        return f"<MessageBatch {self.queue} {len(self.messages)} messages>"
