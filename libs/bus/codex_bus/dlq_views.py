"""What `codex-dlq` shows of dead letters, groups and queues: table columns and JSON records.

Each table's columns, by the order in which they drop when the terminal is narrow (first listed
drops first; ids, fingerprints and queue names never drop and are never cut):

- list / replay --dry-run: ERROR, REASON, ATTEMPTS, TYPE (wraps down to 12 characters first), AGE;
  `-o wide` adds SOURCE QUEUE, REPLAYS, DEAD-LETTERED (UTC) and LOCATION, and the error in full.
- stats: LOCATION, ERROR (wraps down to 20 first), LAST, TYPES (wraps down to 12 first).
- queues: GROUPS, OLDEST (DEPTH stays).

The JSON records carry every field of every column (times as ISO 8601, ages in seconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from codex_bus.dead_letter import DeadLetter
from codex_bus.dlq import FailureGroup
from codex_bus.dlq_output import Column, age
from codex_bus.dlq_queues import QueueSurvey

__all__ = [
    "GROUP_COLUMNS",
    "LETTER_COLUMNS",
    "QUEUE_COLUMNS",
    "group_record",
    "group_row",
    "letter_record",
    "letter_row",
    "queue_record",
    "queue_row",
]

_SHORT_ERROR = 60

LETTER_COLUMNS = (
    Column("ID"),
    Column("FINGERPRINT"),
    Column("AGE", keep=1, justify="right"),
    Column("TYPE", keep=2, wrap=12),
    Column("ATTEMPTS", keep=3, justify="right"),
    Column("REASON", keep=4),
    Column("ERROR", keep=5, wrap=20),
    Column("SOURCE QUEUE", wide_only=True, wrap=12),
    Column("REPLAYS", wide_only=True, justify="right"),
    Column("DEAD-LETTERED (UTC)", wide_only=True),
    Column("LOCATION", wide_only=True, wrap=20),
)

GROUP_COLUMNS = (
    Column("COUNT", justify="right"),
    Column("FINGERPRINT"),
    Column("TYPES", keep=1, wrap=12),
    Column("LAST", keep=2, justify="right"),
    Column("ERROR", keep=3, wrap=20),
    Column("LOCATION", keep=4, wrap=20),
)

QUEUE_COLUMNS = (
    Column("QUEUE"),
    Column("DEPTH", justify="right"),
    Column("OLDEST", keep=1, justify="right"),
    Column("GROUPS", keep=2, justify="right"),
)


def _age_of(at: datetime | None) -> float | None:
    if at is None:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - at).total_seconds(), 0.0)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _error(error_type: str, message: str, *, whole: bool) -> str:
    text = f"{error_type}: {message}" if message else error_type
    return text if whole or len(text) <= _SHORT_ERROR else text[: _SHORT_ERROR - 1] + "…"


def letter_row(letter: DeadLetter, *, wide: bool = False) -> list[str]:
    """A dead letter's cells, in `LETTER_COLUMNS` order."""
    at = letter.dead_lettered_at
    return [
        letter.message_id,
        letter.fingerprint,
        age(_age_of(at)),
        letter.event_type,
        str(letter.attempts),
        letter.reason,
        _error(letter.error_type, letter.error_message, whole=wide),
        letter.source_queue,
        str(letter.replays),
        at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-",
        letter.error_location,
    ]


def letter_record(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter for `-o json`: every field but its headers and body (`show` has those)."""
    record = letter.to_json()
    record.pop("headers", None)
    record.pop("body", None)
    record.pop("body_base64", None)
    record["age_seconds"] = _age_of(letter.dead_lettered_at)
    return record


def group_row(group: FailureGroup) -> list[str]:
    """A failure group's cells, in `GROUP_COLUMNS` order."""
    return [
        str(group.count),
        group.fingerprint,
        ", ".join(sorted(group.event_types)),
        age(_age_of(group.last_at)),
        _error(group.error_type, group.error_message, whole=False),
        group.error_location,
    ]


def group_record(group: FailureGroup) -> dict[str, Any]:
    return {
        "fingerprint": group.fingerprint,
        "count": group.count,
        "event_types": sorted(group.event_types),
        "error_type": group.error_type,
        "error_message": group.error_message,
        "error_location": group.error_location,
        "first_at": _iso(group.first_at),
        "last_at": _iso(group.last_at),
        "last_age_seconds": _age_of(group.last_at),
    }


def queue_row(found: QueueSurvey) -> list[str]:
    """A dead-letter queue's cells, in `QUEUE_COLUMNS` order."""
    return [
        found.queue,
        str(found.depth),
        age(found.oldest_age_s) if found.depth else "-",
        "?" if found.groups is None else str(found.groups),
    ]


def queue_record(found: QueueSurvey) -> dict[str, Any]:
    return {
        "queue": found.queue,
        "depth": found.depth,
        "oldest_dead_lettered_at": _iso(found.oldest_at),
        "oldest_age_seconds": found.oldest_age_s,
        "groups": found.groups,
    }


def rows(letters: Sequence[DeadLetter], *, wide: bool) -> list[list[str]]:
    return [letter_row(letter, wide=wide) for letter in letters]
