"""The `migrate` command that every service's cli.py exposes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import TextIO

from codex_platform.db.migrations import MigrationError, MigrationSource, migrate

__all__ = ["run_migrations"]


def run_migrations(
    dsn: str,
    *,
    schema: str,
    sources: Sequence[MigrationSource],
    out: TextIO | None = None,
) -> int:
    """Apply pending migrations and print what was applied; returns a process exit status.

    Meant for a service's CLI: `raise SystemExit(run_migrations(settings.database_url,
    schema="auth", sources=[BUS_MIGRATIONS, MigrationSource("auth", "codex_auth.migrations")]))`.
    A `MigrationError` prints its one line to stderr and returns 1.
    """
    stream = out if out is not None else sys.stdout
    try:
        applied = asyncio.run(migrate(dsn, schema=schema, sources=sources))
    except MigrationError as exc:
        print(f"migration error: {exc}", file=sys.stderr)
        return 1
    for migration in applied:
        print(f"applied {schema}: {migration}", file=stream)
    if not applied:
        print(f"{schema}: up to date", file=stream)
    return 0
