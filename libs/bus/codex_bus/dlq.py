"""Operations on a dead-letter queue over plain AMQP (no management plugin): list, show, stats,
replay, export, purge. The `codex-dlq` CLI is a thin shell over these.

Every operation is one bounded pass over the queue (`dlq_scan.ScanPass`): at most `window`
messages are unacked or in memory at a time, whatever the queue's depth. A message leaves the
queue only when acked, and it is acked only after its copy was confirmed elsewhere (its source
queue for a replay, the tail of this queue otherwise). What an operation keeps is bounded by what
it returns: `browse(limit=...)` the newest `limit`, `stats()` one record per failure group.
"""

from __future__ import annotations

import asyncio
import heapq
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
from aio_pika.abc import AbstractIncomingMessage

from codex_bus import headers as h
from codex_bus.bus import Bus
from codex_bus.dead_letter import PASS_MARK, DeadLetter
from codex_bus.dlq_audit import AuditTrail
from codex_bus.dlq_prefix import PrefixMatch
from codex_bus.dlq_records import FailureGroup, LetterFilter, Listing, NoSourceQueue, ReplayReport
from codex_bus.dlq_scan import DeadLetterQueueBusy, KeepInQueue, Progress, ScanPass
from codex_bus.errors import UnroutableMessage
from codex_bus.metrics import REPLAYED

__all__ = [
    "DeadLetterQueue",
    "DeadLetterQueueBusy",
    "FailureGroup",
    "LetterFilter",
    "Listing",
    "NoSourceQueue",
    "Progress",
    "ReplayReport",
]


class DeadLetterQueue:
    """One dead-letter queue, by its full name (e.g. `catalog.dlq`).

    `window` bounds the messages in flight (unacked, in memory) during an operation.
    """

    def __init__(self, bus: Bus, name: str, *, window: int = 100) -> None:
        self._bus = bus
        self.name = name
        self.window = window
        self.last_pass: ScanPass | None = None  # for tests and benchmarks: peak_in_flight

    async def count(self) -> int:
        """Messages ready in the queue now (raises if the queue does not exist)."""
        # A plain channel: a failed passive declare closes it, and nothing should try to restore it.
        channel = aio_pika.Channel(self._bus.connection, publisher_confirms=False)
        await channel.initialize()
        try:
            queue = await channel.declare_queue(self.name, passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            if not channel.is_closed:
                await channel.close()

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
        """Dead letters, newest first, optionally filtered by type, fingerprint and time.

        Memory grows with `limit` (the newest `limit` are kept), not with the queue.
        """
        listing = await self.listing(LetterFilter(event_type, fingerprint, since, until), limit, progress)
        return listing.letters

    async def listing(
        self, keep: LetterFilter | None = None, limit: int | None = None, progress: Progress | None = None
    ) -> Listing:
        """`browse`, with how many matched and how many were scanned."""
        chosen = keep or LetterFilter()
        newest: list[tuple[float, int, DeadLetter]] = []  # a min-heap: the oldest kept is first
        matched = 0

        async def visit(letter: DeadLetter) -> bool:
            nonlocal matched
            if chosen(letter):
                matched += 1
                entry = (_at(letter), matched, letter)
                if limit is None or len(newest) < limit:
                    heapq.heappush(newest, entry)
                elif limit and entry > newest[0]:
                    heapq.heapreplace(newest, entry)
            return False

        scanned = await self._pass(visit, progress=progress)
        return Listing(sorted((e[2] for e in newest), key=_at, reverse=True), matched, scanned)

    async def show(self, message_id: str, *, progress: Progress | None = None) -> DeadLetter | None:
        """The newest dead letter with this id, or with the one id that starts with it (a prefix,
        as git takes short hashes); None when none does. Raises `AmbiguousPrefix`."""
        match = PrefixMatch("id", [message_id], keep_letters=True)

        async def visit(letter: DeadLetter) -> bool:
            match.see(letter.message_id, letter)
            return False

        await self._pass(visit, progress=progress)
        return match.letter(message_id)

    async def resolve(self, kind: str, prefixes: list[str], *, progress: Progress | None = None) -> list[str]:
        """The whole ids (`kind="id"`) or fingerprints (`"fingerprint"`) that `prefixes` name.

        A whole value wins over a longer one it is a prefix of. Raises `UnknownPrefix` or
        `AmbiguousPrefix` (naming the candidates)."""
        match = PrefixMatch(kind, prefixes)

        async def visit(letter: DeadLetter) -> bool:
            match.see(letter.message_id if kind == "id" else letter.fingerprint)
            return False

        await self._pass(visit, progress=progress, phase="resolve")
        return match.resolved()

    async def stats(self, *, progress: Progress | None = None) -> list[FailureGroup]:
        """Counts grouped by fingerprint, largest group first."""
        groups: dict[str, FailureGroup] = {}

        async def visit(letter: DeadLetter) -> bool:
            group = groups.setdefault(letter.fingerprint, FailureGroup(letter.fingerprint))
            group.count += 1
            group.event_types.add(letter.event_type)
            at = letter.dead_lettered_at
            if group.last_at is None or (at is not None and at >= group.last_at):
                group.error_type, group.error_message = letter.error_type, letter.error_message
                group.error_location, group.last_at = letter.error_location, at or group.last_at
            if at is not None and (group.first_at is None or at < group.first_at):
                group.first_at = at
            return False

        await self._pass(visit, progress=progress)
        return sorted(groups.values(), key=lambda g: g.count, reverse=True)

    async def replay(
        self,
        *,
        ids: list[str] | tuple[str, ...] = (),
        fingerprint: str | None = None,
        all: bool = False,
        dry_run: bool = False,
        rate: float | None = None,
        preview: int = 1000,
        progress: Progress | None = None,
    ) -> ReplayReport:
        """Send the chosen dead letters back to their source queue, keeping their id, with attempts
        reset and the replay counter raised; each leaves this queue only once its copy is confirmed.

        Choose by whole `ids`, a whole `fingerprint`, or `all`; `rate` caps messages per second.
        Every replay that moves something is audited (`codex_bus.audit`: who, where, which ids).
        """
        wanted = set(ids)
        if not (wanted or fingerprint or all):
            raise ValueError("choose what to replay: ids, a fingerprint, or all")
        report = ReplayReport(selected=0, moved=0, dry_run=dry_run)
        audit = (
            None
            if dry_run
            else AuditTrail(
                "replayed", self.name, requested_ids=sorted(wanted), fingerprint=fingerprint, all=all
            )
        )
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def visit(letter: DeadLetter) -> bool:
            if not (all or letter.message_id in wanted or letter.fingerprint == fingerprint):
                return False
            if len(report.letters) < preview:
                report.letters.append(letter)
            report.selected += 1
            if dry_run:
                return False
            if rate:
                await asyncio.sleep(max(0.0, started + (report.selected - 1) / rate - loop.time()))
            return True

        async def send_back(message: AbstractIncomingMessage, letter: DeadLetter) -> None:
            try:
                await self._send_back(message, letter)
            except (UnroutableMessage, NoSourceQueue) as exc:
                # One letter whose queue is gone must not stop the replay of the others.
                if len(report.kept) < preview:
                    report.kept[letter.message_id] = str(exc)
                raise KeepInQueue from exc
            report.moved += 1
            REPLAYED.labels(letter.source_queue).inc()
            if audit is not None:
                audit.moved(letter.message_id)

        try:
            await self._pass(visit, send_back=send_back, progress=progress, phase="replay")
        except BaseException as exc:
            if audit is not None:
                audit.finish(error=exc, selected=report.selected)
            raise
        if audit is not None:
            audit.finish(selected=report.selected, kept=len(report.kept))
        return report

    async def export(self, path: Path, *, progress: Progress | None = None) -> int:
        """Write every dead letter to `path` as JSON Lines (synced to disk); removes nothing."""
        tmp = path.with_name(path.name + ".partial")
        with tmp.open("wb") as out:

            async def visit(letter: DeadLetter) -> bool:
                out.write(msgspec.json.encode(letter.to_json()) + b"\n")
                return False

            count = await self._pass(visit, progress=progress, phase="export")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
        return count

    async def purge(self, *, progress: Progress | None = None) -> int:
        """Delete every message the queue holds now (not those that arrive meanwhile); returns how
        many. Audited with the ids it deleted."""
        audit = AuditTrail("purged", self.name)

        async def delete(message: AbstractIncomingMessage, letter: DeadLetter) -> None:
            audit.moved(letter.message_id)

        async def visit(letter: DeadLetter) -> bool:
            return True

        try:
            await self._pass(visit, send_back=delete, progress=progress, phase="purge")
        except BaseException as exc:
            audit.finish(error=exc)
            raise
        audit.finish()
        return audit.count

    async def oldest(self) -> DeadLetter | None:
        """The dead letter at the head of the queue (the oldest), left in place; None when empty."""
        channel = aio_pika.Channel(self._bus.connection, publisher_confirms=False)
        await channel.initialize()
        try:
            queue = await channel.declare_queue(self.name, passive=True)
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                return None
            letter = DeadLetter.from_incoming(message)
            await message.nack(requeue=True)  # back to its place: the head
            return letter
        finally:
            if not channel.is_closed:
                await channel.close()

    async def _pass(
        self, visit: Any, *, send_back: Any = None, progress: Progress | None, phase: str = "scan"
    ) -> int:
        scan = ScanPass(
            self._bus.connection,
            self.name,
            send_back=send_back,
            window=self.window,
            phase=phase,
            progress=progress,
        )
        self.last_pass = scan
        return await scan.run(visit)

    async def _send_back(self, message: AbstractIncomingMessage, letter: DeadLetter) -> None:
        if not letter.source_queue:
            raise NoSourceQueue(f"dead letter {letter.message_id} does not name its source queue")
        dropped = (*h.FAILURE_HEADERS, h.ATTEMPTS, h.SOURCE_QUEUE, PASS_MARK)
        headers: dict[str, Any] = {k: v for k, v in h.copyable(message.headers).items() if k not in dropped}
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


def _at(letter: DeadLetter) -> float:
    return letter.dead_lettered_at.timestamp() if letter.dead_lettered_at else 0.0
