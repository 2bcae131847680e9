"""`codex-dlq`: inspect, replay, export and purge dead letters, over AMQP only.

    codex-dlq queues                                  every dead-letter queue: depth, age, groups
    codex-dlq stats catalog.dlq                       counts by fingerprint
    codex-dlq list catalog.dlq --type purchase.completed.v1 --since 2h
    codex-dlq show catalog.dlq 3f2c                   a unique prefix of an id is enough
    codex-dlq replay catalog.dlq --fingerprint 9a1b --dry-run -o json
    codex-dlq replay catalog.dlq --all --rate 50
    codex-dlq export catalog.dlq --out dead.jsonl
    codex-dlq purge catalog.dlq --yes

`-o table|wide|json|jsonl` on every command that prints records. The broker is `--amqp-url`, else
`$AMQP_URL`, else the local default. Replays and purges write audit lines (structlog, stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

import aio_pika
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from codex_bus.bus import Bus
from codex_bus.dlq import DeadLetterQueue, LetterFilter
from codex_bus.dlq import Progress as ProgressCallback
from codex_bus.dlq_args import parse_when, parser
from codex_bus.dlq_output import Output
from codex_bus.dlq_prefix import AmbiguousPrefix, UnknownPrefix
from codex_bus.dlq_queues import SUITE_QUEUES, dead_letter_queues, survey
from codex_bus.dlq_views import (
    GROUP_COLUMNS,
    LETTER_COLUMNS,
    QUEUE_COLUMNS,
    group_record,
    group_row,
    letter_record,
    queue_record,
    queue_row,
    rows,
)
from codex_bus.errors import BusError
from codex_platform.logging import configure_logging, redact_text

__all__ = ["main", "parse_when"]

# Whole values need no resolving pass: an envelope id is a UUID, a fingerprint 16 hex digits.
_WHOLE = {
    "id": re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    "fingerprint": re.compile(r"^[0-9a-f]{16}$"),
}


@contextmanager
def _progress(console: Console) -> Iterator[ProgressCallback]:
    if not console.is_terminal:  # a bar is for eyes: nothing at all in a log or a pipe
        yield lambda phase, done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, transient=True)
    tasks: dict[str, object] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

    with bar:
        yield update


async def _whole(dlq: DeadLetterQueue, kind: str, values: list[str], progress: ProgressCallback) -> list[str]:
    """Prefixes made whole (one pass over the queue), unless every value already is whole."""
    if all(_WHOLE[kind].match(value) for value in values):
        return values
    return await dlq.resolve(kind, values, progress=progress)


async def _one(dlq: DeadLetterQueue, kind: str, value: str | None, progress: ProgressCallback) -> str | None:
    return None if value is None else (await _whole(dlq, kind, [value], progress))[0]


async def _queues(bus: Bus, args: argparse.Namespace, out: Output) -> int:
    names = args.queues or [q for q in os.environ.get("CODEX_DLQ_QUEUES", "").split(",") if q.strip()]
    with _progress(out.errors) as progress:
        found, absent = await survey(
            bus,
            dead_letter_queues(args.prefix, names or SUITE_QUEUES),
            groups_up_to=args.groups_up_to,
            progress=progress,
        )
    if out.machine:
        out.records({"absent": absent}, [queue_record(f) for f in found])
        return 0
    out.table(QUEUE_COLUMNS, [queue_row(f) for f in found])
    out.note(f"{sum(f.depth for f in found)} dead letters in {len(found)} dead-letter queue(s)")
    if absent:
        out.note(f"not on the broker: {', '.join(absent)}")
    return 0


async def _list(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    with _progress(out.errors) as progress:
        fingerprint = await _one(dlq, "fingerprint", args.fingerprint, progress)
        keep = LetterFilter(args.event_type, fingerprint, args.since, args.until)
        listing = await dlq.listing(keep, args.limit or None, progress)
    if out.machine:
        envelope = {"queue": dlq.name, "matched": listing.matched, "scanned": listing.scanned}
        out.records(envelope, [letter_record(d) for d in listing.letters])
        return 0
    out.table(LETTER_COLUMNS, rows(listing.letters, wide=out.fmt == "wide"))
    shown = len(listing.letters)
    more = f" (newest first; --limit {listing.matched} for all)" if shown < listing.matched else ""
    out.note(f"{shown} of {listing.matched} dead letters shown{more}; {listing.scanned} in {dlq.name}")
    return 0


async def _show(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    with _progress(out.errors) as progress:
        letter = await dlq.show(args.message_id, progress=progress)
    if letter is None:
        out.error(f"no dead letter {args.message_id} in {dlq.name}")
        return 1
    if out.fmt == "jsonl":
        out.lines([letter.to_json()])
    else:
        out.document(letter.to_json())
    return 0


async def _stats(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    with _progress(out.errors) as progress:
        groups = await dlq.stats(progress=progress)
    total = sum(g.count for g in groups)
    if out.machine:
        out.records({"queue": dlq.name, "total": total}, [group_record(g) for g in groups])
        return 0
    out.table(GROUP_COLUMNS, [group_row(g) for g in groups])
    out.note(f"{total} dead letters in {len(groups)} groups")
    return 0


async def _replay(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    with _progress(out.errors) as progress:
        ids = await _whole(dlq, "id", args.ids, progress) if args.ids else []
        fingerprint = await _one(dlq, "fingerprint", args.fingerprint, progress)
        report = await dlq.replay(
            ids=ids,
            fingerprint=fingerprint,
            all=args.all,
            dry_run=args.dry_run,
            rate=args.rate,
            progress=progress,
        )
    envelope = {
        "queue": dlq.name,
        "dry_run": report.dry_run,
        "selected": report.selected,
        "moved": report.moved,
        "kept": report.kept,
    }
    if out.machine:
        out.records(envelope, [letter_record(d) for d in report.letters] if report.dry_run else [])
    elif report.dry_run:
        out.table(LETTER_COLUMNS, rows(report.letters, wide=out.fmt == "wide"))
        out.note(f"dry run: would replay {report.selected} dead letters; nothing moved")
    else:
        out.note(f"replayed {report.moved} dead letters from {dlq.name} to their source queues")
    for message_id, why in report.kept.items():
        out.error(f"not replayed, left in {dlq.name}: {message_id}: {why}")
    return 1 if report.kept else 0


async def _export(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    with _progress(out.errors) as progress:
        count = await dlq.export(args.out, progress=progress)
    out.note(f"exported {count} dead letters to {args.out}")
    return 0


async def _purge(dlq: DeadLetterQueue, args: argparse.Namespace, out: Output) -> int:
    count = await dlq.count()
    if not args.yes:
        if not sys.stdin.isatty():
            out.error("refusing to purge without --yes when not asked on a terminal")
            return 1
        question = f"Delete {count} dead letters from {dlq.name} for good? [y/N] "
        answer = await asyncio.to_thread(input, question)
        if answer.strip().lower() not in ("y", "yes"):
            out.note("nothing purged")
            return 1
    with _progress(out.errors) as progress:
        purged = await dlq.purge(progress=progress)
    out.note(f"purged {purged} dead letters from {dlq.name}")
    return 0


_COMMANDS: dict[str, Callable[[DeadLetterQueue, argparse.Namespace, Output], Awaitable[int]]] = {
    "list": _list,
    "show": _show,
    "stats": _stats,
    "replay": _replay,
    "export": _export,
    "purge": _purge,
}


async def run(argv: Sequence[str], *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """`codex-dlq` inside a running event loop (tests, other tools); returns the exit status."""
    args = parser().parse_args(argv)
    out = Output(getattr(args, "output", "table"), stdout, errors=stderr)
    try:
        bus = Bus(args.amqp_url, name="codex-dlq", declare_exchanges=False)
        await bus.connect()
        try:
            if args.command == "queues":
                return await _queues(bus, args, out)
            return await _COMMANDS[args.command](DeadLetterQueue(bus, args.queue), args, out)
        finally:
            await bus.close()
    except aio_pika.exceptions.ChannelNotFoundEntity:
        out.error(f"no queue named {getattr(args, 'queue', '')!r}")
    except (AmbiguousPrefix, UnknownPrefix) as exc:
        out.error(f"codex-dlq {args.command}: {exc}")
    except (BusError, ValueError, OSError, aio_pika.exceptions.AMQPError) as exc:
        # redact_text: a connection error may quote the broker URL, password included.
        out.error(f"codex-dlq {args.command}: {type(exc).__name__}: {redact_text(str(exc))}")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `codex-dlq`; returns the exit status."""
    # Audit lines (replay, purge) on stderr, so that stdout stays the command's output.
    configure_logging(
        os.environ.get("LOG_LEVEL", "INFO"),
        "json" if os.environ.get("LOG_FORMAT") == "json" else "console",
        service="codex-dlq",
        stream=sys.stderr,
    )
    return asyncio.run(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
