"""What dead-letter operations return: failure groups, listings, replay reports; and the filter
of a listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from codex_bus.dead_letter import DeadLetter

__all__ = ["FailureGroup", "LetterFilter", "Listing", "NoSourceQueue", "ReplayReport"]


class NoSourceQueue(ValueError):
    """A dead letter that does not say where it came from cannot be replayed."""


@dataclass
class FailureGroup:
    """Dead letters that share a fingerprint."""

    fingerprint: str
    count: int = 0
    event_types: set[str] = field(default_factory=set)
    error_type: str = ""
    error_message: str = ""
    error_location: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class Listing:
    """The newest dead letters that matched (at most the limit), and how many matched of how many."""

    letters: list[DeadLetter]
    matched: int
    scanned: int


@dataclass
class ReplayReport:
    """What a replay moved, or with `dry_run` what it would have moved.

    `letters` are the first `preview` selected dead letters (all of them on a small queue).
    """

    selected: int
    moved: int
    dry_run: bool
    letters: list[DeadLetter] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    """Selected dead letters that could not be sent back and stayed (the first `preview`), by id:
    why (their source queue is gone, or they name none)."""


@dataclass(frozen=True)
class LetterFilter:
    """Which dead letters a listing keeps: by type, fingerprint, and time dead-lettered."""

    event_type: str | None = None
    fingerprint: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __call__(self, letter: DeadLetter) -> bool:
        if self.event_type is not None and letter.event_type != self.event_type:
            return False
        if self.fingerprint is not None and letter.fingerprint != self.fingerprint:
            return False
        at = letter.dead_lettered_at
        if self.since is not None and (at is None or at < self.since):
            return False
        return not (self.until is not None and (at is None or at > self.until))
