"""The errors the bus raises to its callers; each says what went wrong and what to do about it."""

from __future__ import annotations

from codex_contracts import Envelope, encode_envelope

__all__ = [
    "MAX_DELAY_SECONDS",
    "MAX_MESSAGE_BYTES",
    "BusError",
    "InvalidDelay",
    "MessageTooLarge",
    "PublishFailed",
    "PublishRejected",
    "UnroutableMessage",
    "check_delay",
    "encode_checked",
]

# Cloudflare Queues' limits, kept so that code moved from there behaves the same here.
MAX_MESSAGE_BYTES = 128 * 1024
MAX_DELAY_SECONDS = 12 * 60 * 60


class BusError(Exception):
    """Base class of the errors of codex_bus."""


class MessageTooLarge(BusError, ValueError):
    """The encoded message is over the 128 KB limit; large payloads belong in object storage."""

    def __init__(self, event_type: str, size: int, limit: int = MAX_MESSAGE_BYTES) -> None:
        super().__init__(
            f"{event_type} message is {size} bytes, over the bus limit of {limit} bytes (128 KB): "
            "put large payloads in object storage and send their key"
        )
        self.event_type = event_type
        self.size = size
        self.limit = limit


class InvalidDelay(BusError, ValueError):
    """A delay outside 0..43200 whole seconds."""

    def __init__(self, delay_seconds: object) -> None:
        super().__init__(
            f"delay_seconds must be a whole number of seconds from 0 to {MAX_DELAY_SECONDS}, "
            f"got {delay_seconds!r}"
        )


class PublishFailed(BusError):
    """The broker did not confirm a message (connection lost, nack, no route); it may be resent."""


class UnroutableMessage(PublishFailed):
    """The broker returned a mandatory message: no queue is bound to its routing key."""

    def __init__(self, exchange: str, routing_key: str) -> None:
        where = f"exchange {exchange!r}" if exchange else "the default exchange"
        super().__init__(
            f"no queue is bound to routing key {routing_key!r} on {where}: the message was returned "
            "unrouted (is the consuming service's queue declared?)"
        )
        self.exchange = exchange
        self.routing_key = routing_key


class PublishRejected(PublishFailed):
    """The broker answered basic.nack: it could not take responsibility for the message."""


def check_delay(delay_seconds: int) -> int:
    """Return `delay_seconds` if it is a valid delay, else raise `InvalidDelay`."""
    if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int):
        raise InvalidDelay(delay_seconds)
    if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
        raise InvalidDelay(delay_seconds)
    return delay_seconds


def encode_checked(envelope: Envelope) -> bytes:
    """The envelope's wire body; raises `MessageTooLarge` over 128 KB. The one size check of a
    message: producers and the outbox call it, what they publish later is not measured again."""
    body = encode_envelope(envelope)
    if len(body) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(envelope.type, len(body))
    return body
