"""The command line of `codex-dlq`: its commands, their options, and how times are written."""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["parse_when", "parser"]

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


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


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codex-dlq", description="Dead letters of the Codex bus.")
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("AMQP_URL", "amqp://guest:guest@localhost/"),
        help="the broker (default: $AMQP_URL, which others cannot read in the process list)",
    )
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("-o", "--output", choices=("table", "wide", "json", "jsonl"), default="table")
    commands = parser.add_subparsers(dest="command", required=True)

    queues = commands.add_parser(
        "queues", parents=[out], help="every dead-letter queue: depth, oldest, groups"
    )
    queues.add_argument("--prefix", default=os.environ.get("CODEX_BUS_PREFIX", ""), help="the bus prefix")
    queues.add_argument("--queue", dest="queues", action="append", help="a consuming queue (repeatable)")
    queues.add_argument("--groups-up-to", type=int, default=10_000, help="count groups of queues this deep")

    listing = commands.add_parser("list", parents=[out], help="the newest dead letters")
    listing.add_argument("queue")
    listing.add_argument("--type", dest="event_type")
    listing.add_argument("--fingerprint", help="whole or a unique prefix")
    listing.add_argument("--since", type=parse_when, help="30m, 2h, 7d or an ISO time")
    listing.add_argument("--until", type=parse_when)
    listing.add_argument(
        "--limit", type=int, default=50, help="most shown, newest first (0: all, held in memory)"
    )

    show = commands.add_parser("show", parents=[out], help="one dead letter: headers, failure, body")
    show.add_argument("queue")
    show.add_argument("message_id", help="whole or a unique prefix")

    stats = commands.add_parser("stats", parents=[out], help="counts by fingerprint")
    stats.add_argument("queue")

    replay = commands.add_parser("replay", parents=[out], help="send dead letters back to their source queue")
    replay.add_argument("queue")
    choice = replay.add_mutually_exclusive_group(required=True)
    choice.add_argument(
        "--id", dest="ids", action="append", help="a message id or unique prefix (repeatable)"
    )
    choice.add_argument("--fingerprint", help="whole or a unique prefix")
    choice.add_argument("--all", action="store_true", help="every dead letter of the queue")
    replay.add_argument("--dry-run", action="store_true", help="say what would move, move nothing")
    replay.add_argument("--rate", type=float, help="most messages per second")

    export = commands.add_parser("export", help="write every dead letter to a JSON Lines file")
    export.add_argument("queue")
    export.add_argument("--out", type=Path, required=True)

    purge = commands.add_parser("purge", help="delete every dead letter of the queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask")
    return parser
