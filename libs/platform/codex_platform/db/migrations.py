"""Forward-only SQL migrations: `NNNN_name.sql` files applied in order, each once, per schema.

Several sources share one schema (the bus library's outbox/inbox tables as source "bus", the
service's own tables as source "auth"); each is recorded as (source, version) in
`<schema>.schema_migrations`. Runners serialise on a Postgres advisory lock keyed on the schema,
so any number of replicas may run `migrate` at start-up and each file is applied exactly once.
An applied file that was edited afterwards stops the runner: migrations are history, not config.
Each file runs in a transaction, so statements that refuse one (`CREATE INDEX CONCURRENTLY`,
`ALTER TYPE ... ADD VALUE` before Postgres 12) do not belong in a migration file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

import asyncpg

from codex_platform.db.pool import connect, quote_ident, validate_schema_name

__all__ = ["AppliedMigration", "Migration", "MigrationError", "MigrationSource", "migrate"]

# stdlib logging: silent in a bare script, routed through structlog once configure_logging ran.
_log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """A migration cannot be applied (bad file name, edited after it was applied, SQL error)."""


@dataclass(frozen=True)
class Migration:
    """One SQL file of a source."""

    source: str
    version: int
    name: str
    filename: str
    sql: str
    checksum: str


@dataclass(frozen=True)
class AppliedMigration:
    """A migration that this run applied."""

    source: str
    version: int
    name: str

    def __str__(self) -> str:
        return f"{self.source} {self.version:04d}_{self.name}"


@dataclass(frozen=True)
class MigrationSource:
    """A named set of migrations: a directory (`Path`) or a package's resources (dotted name).

    `MigrationSource("bus", "codex_bus.migrations")` reads the package's `*.sql` resources, so it
    works from a wheel as well as from a checkout; `MigrationSource("auth", Path(...))` a directory.
    """

    name: str
    location: Path | Traversable | str

    def _root(self) -> Traversable:
        if isinstance(self.location, str):
            return importlib.resources.files(self.location)
        return self.location

    def migrations(self) -> list[Migration]:
        """The source's migrations by version; raises `MigrationError` for a malformed set."""
        root = self._root()
        if not root.is_dir():
            raise MigrationError(f"migration source {self.name!r}: {self.location} is not a directory")
        found: dict[int, Migration] = {}
        for entry in root.iterdir():
            if not entry.name.endswith(".sql"):
                continue
            match = _FILE_NAME.match(entry.name)
            if match is None:
                raise MigrationError(
                    f"{self.name}/{entry.name}: migration file names must look like 0001_create_users.sql"
                )
            version = int(match.group(1))
            if version in found:
                raise MigrationError(
                    f"{self.name}/{entry.name}: version {version:04d} is also {found[version].filename}"
                )
            # Normalise line endings so a checkout with CRLF has the same checksum.
            text = entry.read_bytes().replace(b"\r\n", b"\n")
            found[version] = Migration(
                source=self.name,
                version=version,
                name=match.group(2),
                filename=entry.name,
                sql=text.decode("utf-8"),
                checksum=hashlib.sha256(text).hexdigest(),
            )
        return [found[v] for v in sorted(found)]


def advisory_lock_key(schema: str) -> int:
    """The signed 64-bit advisory-lock key that serialises migration runs on `schema`."""
    digest = hashlib.sha256(f"codex.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(
    dsn: str, *, schema: str, sources: Sequence[MigrationSource], lock_timeout_seconds: float = 300.0
) -> list[AppliedMigration]:
    """Create `schema` if missing and apply the pending migrations of `sources`, in order.

    Sources are applied in the order given (put the ones others depend on first), each file in
    its own transaction with `search_path` set to `schema`, so files use unqualified names.
    Raises `MigrationError` naming the file when an applied migration's checksum changed (before
    anything is applied) or when a file fails. Returns what this call applied.
    """
    validate_schema_name(schema)
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise MigrationError(f"migration source names must be unique, got {names}")
    pending = [m for source in sources for m in source.migrations()]
    conn = await connect(dsn, command_timeout=None)
    try:
        await conn.execute(f"SET lock_timeout = '{int(lock_timeout_seconds * 1000)}ms'")
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", advisory_lock_key(schema))
        except asyncpg.LockNotAvailableError:
            raise MigrationError(
                f"schema {schema!r}: another migration run held the lock for over {lock_timeout_seconds:g} s"
            ) from None
        await conn.execute("RESET lock_timeout")
        try:
            return await _apply_locked(conn, schema, pending)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", advisory_lock_key(schema))
    finally:
        await conn.close()


async def _apply_locked(
    conn: asyncpg.Connection, schema: str, migrations: list[Migration]
) -> list[AppliedMigration]:
    quoted = quote_ident(schema)
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
    await conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations (
            source text NOT NULL,
            version integer NOT NULL,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source, version)
        )"""
    )
    # The schema name is a validated, quoted identifier; identifiers cannot be query parameters.
    rows = await conn.fetch(f"SELECT source, version, checksum FROM {quoted}.schema_migrations")  # noqa: S608
    applied = {(r["source"], r["version"]): r["checksum"] for r in rows}
    # Check every applied file first: a changed one refuses the whole run, not half of it.
    for m in migrations:
        recorded = applied.get((m.source, m.version))
        if recorded is not None and recorded != m.checksum:
            raise MigrationError(
                f"{m.source}/{m.filename}: changed after it was applied to schema {schema!r} "
                f"(checksum {recorded[:12]}… now {m.checksum[:12]}…); add a new migration instead"
            )
    done: list[AppliedMigration] = []
    for m in migrations:
        if (m.source, m.version) in applied:
            continue
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {quoted}")
                await conn.execute(m.sql)
                await conn.execute(
                    f"INSERT INTO {quoted}.schema_migrations"  # noqa: S608
                    " (source, version, name, checksum) VALUES ($1, $2, $3, $4)",
                    m.source,
                    m.version,
                    m.name,
                    m.checksum,
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(f"{m.source}/{m.filename}: {type(exc).__name__}: {exc}") from exc
        done.append(AppliedMigration(m.source, m.version, m.name))
        _log.info("applied migration %s to schema %s", done[-1], schema)
    return done
