"""`codex-dlq`: inspect, replay, export and purge dead letters, over AMQP only.

    codex-dlq list catalog.dlq --type purchase.completed.v1 --since 2h
    codex-dlq show catalog.dlq 3f2c...
    codex-dlq stats catalog.dlq
    codex-dlq replay catalog.dlq --fingerprint 9a1b... --dry-run
    codex-dlq replay catalog.dlq --all --rate 50
    codex-dlq export catalog.dlq --out dead.jsonl
    codex-dlq purge catalog.dlq --yes

The broker is `--amqp-url`, else `$AMQP_URL`, else the local default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from codex_bus.bus import Bus
from codex_bus.dead_letter import DeadLetter
from codex_bus.dlq import DeadLetterQueue
from codex_bus.dlq import Progress as ProgressCallback
from codex_bus.errors import BusError
from codex_platform.logging import redact_text

__all__ = ["main"]

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

out = Console()
err = Console(stderr=True)


def parse_when(text: str) -> datetime:
    """`30m`, `2h`, `7d` ago, or an ISO 8601 time (UTC when it names no zone)."""
    match = _RELATIVE.match(text)
    if match:
        return datetime.now(UTC) - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither like 30m / 2h / 7d nor an ISO time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codex-dlq", description="Dead letters of the Codex bus.")
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@localhost/"))
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="dead letters, newest first")
    listing.add_argument("queue")
    listing.add_argument("--type", dest="event_type")
    listing.add_argument("--fingerprint")
    listing.add_argument("--since", type=parse_when, help="30m, 2h, 7d or an ISO time")
    listing.add_argument("--until", type=parse_when)
    listing.add_argument("--limit", type=int)

    show = commands.add_parser("show", help="one dead letter: headers, failure, body")
    show.add_argument("queue")
    show.add_argument("message_id")

    stats = commands.add_parser("stats", help="counts by fingerprint")
    stats.add_argument("queue")

    replay = commands.add_parser("replay", help="send dead letters back to their source queue")
    replay.add_argument("queue")
    choice = replay.add_mutually_exclusive_group(required=True)
    choice.add_argument("--id", dest="ids", action="append", help="a message id (repeatable)")
    choice.add_argument("--fingerprint")
    choice.add_argument("--all", action="store_true")
    replay.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    replay.add_argument("--rate", type=float, help="most messages per second")

    export = commands.add_parser("export", help="write every dead letter to a JSON Lines file")
    export.add_argument("queue")
    export.add_argument("--out", type=Path, required=True)

    purge = commands.add_parser("purge", help="delete every dead letter of the queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask")
    return parser


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, object] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

    with bar:
        yield update


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _letters_table(letters: Sequence[DeadLetter]) -> Table:
    table = Table("dead-lettered (UTC)", "id", "type", "attempts", "error", "fingerprint", "reason")
    for d in letters:
        table.add_row(
            _when(d.dead_lettered_at),
            d.message_id,
            d.event_type,
            str(d.attempts),
            f"{d.error_type}: {d.error_message[:60]}",
            d.fingerprint,
            d.reason,
        )
    return table


async def _run(args: argparse.Namespace) -> int:
    bus = Bus(args.amqp_url, name="codex-dlq", declare_exchanges=False)
    await bus.connect()
    try:
        dlq = DeadLetterQueue(bus, args.queue)
        command: Callable[[DeadLetterQueue, argparse.Namespace], Awaitable[int]] = _COMMANDS[args.command]
        return await command(dlq, args)
    finally:
        await bus.close()


async def _list(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    with _progress() as progress:
        letters = await dlq.browse(
            event_type=args.event_type,
            fingerprint=args.fingerprint,
            since=args.since,
            until=args.until,
            limit=args.limit,
            progress=progress,
        )
    out.print(_letters_table(letters))
    out.print(f"{len(letters)} dead letters")
    return 0


async def _show(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    with _progress() as progress:
        letter = await dlq.show(args.message_id, progress=progress)
    if letter is None:
        err.print(f"no dead letter {args.message_id} in {dlq.name}")
        return 1
    out.print_json(msgspec.json.encode(letter.to_json()).decode())
    return 0


async def _stats(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    with _progress() as progress:
        groups = await dlq.stats(progress=progress)
    table = Table("count", "fingerprint", "type", "error", "where", "last (UTC)")
    for g in groups:
        table.add_row(
            str(g.count),
            g.fingerprint,
            ", ".join(sorted(g.event_types)),
            f"{g.error_type}: {g.error_message[:80]}",
            g.error_location,
            _when(g.last_at),
        )
    out.print(table)
    out.print(f"{sum(g.count for g in groups)} dead letters in {len(groups)} groups")
    return 0


async def _replay(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    with _progress() as progress:
        report = await dlq.replay(
            ids=args.ids or (),
            fingerprint=args.fingerprint,
            all=args.all,
            dry_run=args.dry_run,
            rate=args.rate,
            progress=progress,
        )
    if report.dry_run:
        out.print(_letters_table(report.selected))
        out.print(f"dry run: would replay {len(report.selected)} dead letters; nothing moved")
    else:
        out.print(f"replayed {len(report.moved)} dead letters from {dlq.name} to their source queues")
    return 0


async def _export(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    with _progress() as progress:
        count = await dlq.export(args.out, progress=progress)
    out.print(f"exported {count} dead letters to {args.out}")
    return 0


async def _purge(dlq: DeadLetterQueue, args: argparse.Namespace) -> int:
    count = await dlq.count()
    if not args.yes:
        if not sys.stdin.isatty():
            err.print("refusing to purge without --yes when not asked on a terminal")
            return 1
        answer = await asyncio.to_thread(
            input, f"Delete {count} dead letters from {dlq.name} for good? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            out.print("nothing purged")
            return 1
    purged = await dlq.purge()
    out.print(f"purged {purged} dead letters from {dlq.name}")
    return 0


_COMMANDS: dict[str, Callable[[DeadLetterQueue, argparse.Namespace], Awaitable[int]]] = {
    "list": _list,
    "show": _show,
    "stats": _stats,
    "replay": _replay,
    "export": _export,
    "purge": _purge,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `codex-dlq`; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except aio_pika.exceptions.ChannelNotFoundEntity:
        err.print(f"no queue named {args.queue!r}")
        return 1
    except (BusError, ValueError, OSError, aio_pika.exceptions.AMQPError) as exc:
        # redact_text: a connection error may quote the broker URL, password included.
        err.print(f"codex-dlq {args.command}: {type(exc).__name__}: {redact_text(str(exc))}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
