"""``python -m codex_contracts snapshot | check``: freeze and guard the published contract versions.

snapshot  writes the schema of every new version and of compatible changes to contracts/schemas/,
          and contracts/asyncapi.json; an incompatible change fails it and nothing is written.
check     compares the registered contracts with the snapshots: fails on an incompatible change,
          on a version without a snapshot, and on a snapshotted version that is no longer registered
          unless contracts/retired.txt lists it. ``--strict`` also fails when a snapshot or
          asyncapi.json lags behind a compatible change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from codex_contracts.asyncapi import build_asyncapi
from codex_contracts.compat import Review, review
from codex_contracts.schema import (
    CONTRACTS_ROOT,
    Schema,
    all_events,
    current_schemas,
    read_retired,
    read_snapshots,
    render,
    snapshot_path,
    write_if_changed,
)

_FROZEN = (
    "Published versions are frozen: put the change in a new version (e.g. .v2), serve both while "
    "consumers move, and retire the old one in contracts/retired.txt. See contracts/README.md."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codex_contracts", description="Freeze and guard the published contract versions."
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=CONTRACTS_ROOT,
        help="the contracts directory holding schemas/, asyncapi.json and retired.txt (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("snapshot", help="write new and compatibly changed snapshots and asyncapi.json")
    check = commands.add_parser("check", help="fail when a contract changed incompatibly or lacks a snapshot")
    check.add_argument(
        "--strict", action="store_true", help="also fail when a snapshot lags behind a compatible change"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.command == "check" and not (root / "schemas").is_dir():
        print(f"no snapshots in {root / 'schemas'}: pass --root <the contracts directory>", file=sys.stderr)
        return 2
    current = current_schemas()
    result = review(read_snapshots(root / "schemas"), current, read_retired(root / "retired.txt"))
    asyncapi = render(build_asyncapi(all_events()))
    if args.command == "snapshot":
        return _snapshot(root, current, result, asyncapi)
    return _check(root, result, asyncapi, strict=args.strict)


def _snapshot(root: Path, current: dict[str, Schema], result: Review, asyncapi: bytes) -> int:
    if result.incompatible:
        _report_incompatible(result)
        print("nothing written", file=sys.stderr)
        return 1
    for name in result.new:
        write_if_changed(snapshot_path(root / "schemas", name), render(current[name]))
        print(f"added    {name}")
    for name in result.updated:
        write_if_changed(snapshot_path(root / "schemas", name), render(current[name]))
        print(f"updated  {name} (compatible change)")
    if write_if_changed(root / "asyncapi.json", asyncapi):
        print("updated  asyncapi.json")
    print(_summary(result))
    return 0


def _check(root: Path, result: Review, asyncapi: bytes, *, strict: bool) -> int:
    _report_incompatible(result)
    for name in result.new:
        print(
            f"{name}: new, no snapshot yet: run `make contracts` and commit contracts/schemas/{name}.json",
            file=sys.stderr,
        )
    lagging = [f"{name}: compatible change not in its snapshot yet" for name in result.updated]
    asyncapi_path = root / "asyncapi.json"
    if not asyncapi_path.exists() or asyncapi_path.read_bytes() != asyncapi:
        lagging.append("asyncapi.json: out of date")
    for line in lagging:
        print(f"{line}: run `make contracts`", file=sys.stderr if strict else sys.stdout)
    print(_summary(result))
    failed = bool(result.incompatible or result.new or (strict and lagging))
    return 1 if failed else 0


def _report_incompatible(result: Review) -> None:
    for problem in result.incompatible:
        print(f"INCOMPATIBLE {problem}", file=sys.stderr)
    if result.incompatible:
        print(_FROZEN, file=sys.stderr)


def _summary(result: Review) -> str:
    return (
        f"contracts: {len(result.unchanged)} unchanged, {len(result.updated)} compatibly changed, "
        f"{len(result.new)} new, {len(result.retired)} retired, {len(result.incompatible)} incompatible"
    )


if __name__ == "__main__":
    raise SystemExit(main())
