"""Our own AMQP headers: attempts, failure metadata, replays.

They are named `codex-*`, not `x-*`: RabbitMQ reserves `x-` for itself (RabbitMQ 4 ignores a
client-set `x-death`), and a copy we publish drops every `x-` header the broker added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ATTEMPTS",
    "DEAD_LETTERED_AT",
    "ERROR_LOCATION",
    "ERROR_MESSAGE",
    "ERROR_TYPE",
    "FINGERPRINT",
    "FIRST_FAILURE_AT",
    "LAST_FAILURE_AT",
    "REASON",
    "REPLAYS",
    "ROUTING_KEY",
    "SOURCE_QUEUE",
    "as_int",
    "as_str",
    "attempts_of",
    "copyable",
]

ATTEMPTS = "codex-attempts"
FIRST_FAILURE_AT = "codex-first-failure-at"
LAST_FAILURE_AT = "codex-last-failure-at"
ERROR_TYPE = "codex-error-type"
ERROR_MESSAGE = "codex-error-message"
ERROR_LOCATION = "codex-error-location"
FINGERPRINT = "codex-fingerprint"
SOURCE_QUEUE = "codex-source-queue"
ROUTING_KEY = "codex-routing-key"
DEAD_LETTERED_AT = "codex-dead-lettered-at"
REASON = "codex-reason"
REPLAYS = "codex-replays"

# Set by quorum queues on every delivery: how many times the message went back unsettled
# (nack with requeue, or a consumer channel that closed: a crash, a lost connection).
_DELIVERY_COUNT = "x-delivery-count"

FAILURE_HEADERS = (
    FIRST_FAILURE_AT,
    LAST_FAILURE_AT,
    ERROR_TYPE,
    ERROR_MESSAGE,
    ERROR_LOCATION,
    FINGERPRINT,
    DEAD_LETTERED_AT,
    REASON,
)


def as_str(value: Any) -> str | None:
    """A header value as text (AMQP tables may hand back bytes for long strings)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def as_int(value: Any, default: int = 0) -> int:
    """A header value as an int, `default` when absent or malformed."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def attempts_of(headers: Mapping[str, Any] | None) -> int:
    """The delivery attempt this is, from 1: our counter plus the unsettled returns since it was
    published, so that a message that kills its consumer is counted too."""
    if not headers:
        return 1
    return max(as_int(headers.get(ATTEMPTS), 1), 1) + max(as_int(headers.get(_DELIVERY_COUNT)), 0)


def copyable(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The headers a republished copy may carry: everything but the broker's own `x-` headers."""
    if not headers:
        return {}
    return {key: value for key, value in headers.items() if not key.startswith("x-")}
