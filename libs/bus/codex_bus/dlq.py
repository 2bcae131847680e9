"""Operations on a dead-letter queue over plain AMQP (no management plugin): list, show, stats,
replay, export, purge. The `codex-dlq` CLI is a thin shell over these.

AMQP cannot browse a queue, so a scan takes every message with `basic.get` without acking and
holds it; closing the scan's channel puts every message not acked back in place. A message leaves
the dead-letter queue only when acked, and it is acked only after its copy was confirmed
elsewhere (replay); export writes and syncs its file before the scan lets go of anything.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
from aio_pika.abc import AbstractIncomingMessage

from codex_bus import headers as h
from codex_bus.bus import Bus
from codex_bus.dead_letter import DeadLetter
from codex_bus.metrics import REPLAYED

__all__ = ["DeadLetterQueue", "FailureGroup", "Progress", "ReplayReport"]

Progress = Callable[[str, int, int], None]
"""Called as (phase, done, total) while a long operation runs; phase is "scan", "replay", "export"."""

_Held = list[tuple[AbstractIncomingMessage, DeadLetter]]


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
class ReplayReport:
    """What a replay moved, or with `dry_run` what it would have moved."""

    selected: list[DeadLetter]
    moved: list[str]
    dry_run: bool


class DeadLetterQueue:
    """One dead-letter queue, by its full name (e.g. `catalog.dlq`)."""

    def __init__(self, bus: Bus, name: str) -> None:
        self._bus = bus
        self.name = name

    async def count(self) -> int:
        """Messages in the queue now (raises if the queue does not exist)."""
        async with self._channel() as channel:
            queue = await channel.declare_queue(self.name, passive=True)
            return queue.declaration_result.message_count or 0

    async def browse(
        self,
        *,
        event_type: str | None = None,
        fingerprint: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally filtered by type, fingerprint and time."""
        async with self._scan(progress) as held:
            letters = [d for _, d in held if _matches(d, event_type, fingerprint, since, until)]
        letters.sort(key=_newest_first)
        return letters[:limit] if limit is not None else letters

    async def show(self, message_id: str, *, progress: Progress | None = None) -> DeadLetter | None:
        """The newest dead letter with this message id, if any."""
        found = [d for d in await self.browse(progress=progress) if d.message_id == message_id]
        return found[0] if found else None

    async def stats(self, *, progress: Progress | None = None) -> list[FailureGroup]:
        """Counts grouped by fingerprint, largest group first."""
        groups: dict[str, FailureGroup] = {}
        for letter in sorted(await self.browse(progress=progress), key=_newest_first, reverse=True):
            group = groups.setdefault(letter.fingerprint, FailureGroup(letter.fingerprint))
            group.count += 1
            group.event_types.add(letter.event_type)
            group.error_type, group.error_message = letter.error_type, letter.error_message
            group.error_location = letter.error_location
            group.first_at = group.first_at or letter.dead_lettered_at
            group.last_at = letter.dead_lettered_at or group.last_at
        return sorted(groups.values(), key=lambda g: g.count, reverse=True)

    async def replay(
        self,
        *,
        ids: Iterable[str] = (),
        fingerprint: str | None = None,
        all: bool = False,
        dry_run: bool = False,
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> ReplayReport:
        """Send the chosen dead letters back to their source queue, keeping their id, with attempts
        reset and the replay counter raised; each leaves this queue only once its copy is confirmed.

        Choose by `ids`, by `fingerprint`, or `all`; `rate` caps messages per second.
        """
        wanted = set(ids)
        if not (wanted or fingerprint or all):
            raise ValueError("choose what to replay: ids, a fingerprint, or all")
        async with self._scan(progress) as held:
            chosen = [
                (m, d)
                for m, d in held
                if all or d.message_id in wanted or (fingerprint is not None and d.fingerprint == fingerprint)
            ]
            report = ReplayReport(selected=[d for _, d in chosen], moved=[], dry_run=dry_run)
            if dry_run:
                return report
            loop = asyncio.get_running_loop()
            started = loop.time()
            for done, (message, letter) in enumerate(chosen):
                if rate:
                    await asyncio.sleep(max(0.0, started + done / rate - loop.time()))
                await self._send_back(message, letter)
                await message.ack()
                report.moved.append(letter.message_id)
                REPLAYED.labels(letter.source_queue).inc()
                if progress:
                    progress("replay", done + 1, len(chosen))
        return report

    async def export(self, path: Path, *, progress: Progress | None = None) -> int:
        """Write every dead letter to `path` as JSON Lines (synced to disk); removes nothing."""
        tmp = path.with_name(path.name + ".partial")
        async with self._scan(progress) as held:
            with tmp.open("wb") as out:
                for done, (_, letter) in enumerate(held, start=1):
                    out.write(msgspec.json.encode(letter.to_json()) + b"\n")
                    if progress:
                        progress("export", done, len(held))
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(path)
            return len(held)

    async def purge(self) -> int:
        """Delete every message in the queue; returns how many."""
        async with self._channel() as channel:
            queue = await channel.declare_queue(self.name, passive=True)
            result = await queue.purge()
            return int(result.message_count or 0)

    async def _send_back(self, message: AbstractIncomingMessage, letter: DeadLetter) -> None:
        if not letter.source_queue:
            raise ValueError(f"dead letter {letter.message_id} does not name its source queue")
        headers: dict[str, Any] = {
            k: v
            for k, v in h.copyable(message.headers).items()
            if k not in h.FAILURE_HEADERS and k not in (h.ATTEMPTS, h.SOURCE_QUEUE)
        }
        headers[h.REPLAYS] = letter.replays + 1
        timestamp = message.timestamp if isinstance(message.timestamp, datetime) else None
        await self._bus.publisher.publish(
            message.body,
            exchange="",
            routing_key=letter.source_queue,
            message_id=letter.message_id,
            event_type=letter.event_type,
            headers=headers,
            timestamp=timestamp,
            reconnect_timeout=0,
        )

    @asynccontextmanager
    async def _channel(self) -> AsyncIterator[aio_pika.Channel]:
        # A plain channel: a failed passive declare closes it, and nothing should try to restore it.
        channel = aio_pika.Channel(self._bus.connection, publisher_confirms=False)
        await channel.initialize()
        try:
            yield channel
        finally:
            if not channel.is_closed:
                await channel.close()

    @asynccontextmanager
    async def _scan(self, progress: Progress | None) -> AsyncIterator[_Held]:
        """Take every message present now, unacked; all not acked go back when the block ends."""
        async with self._channel() as channel:
            queue = await channel.declare_queue(self.name, passive=True)
            total = queue.declaration_result.message_count or 0
            held: _Held = []
            while len(held) < total:
                message = await queue.get(no_ack=False, fail=False)
                if message is None:
                    break
                held.append((message, DeadLetter.from_incoming(message)))
                if progress:
                    progress("scan", len(held), total)
            yield held


def _newest_first(letter: DeadLetter) -> float:
    return -(letter.dead_lettered_at.timestamp() if letter.dead_lettered_at else 0.0)


def _matches(
    letter: DeadLetter,
    event_type: str | None,
    fingerprint: str | None,
    since: datetime | None,
    until: datetime | None,
) -> bool:
    if event_type is not None and letter.event_type != event_type:
        return False
    if fingerprint is not None and letter.fingerprint != fingerprint:
        return False
    at = letter.dead_lettered_at
    if since is not None and (at is None or at < since):
        return False
    return not (until is not None and (at is None or at > until))
