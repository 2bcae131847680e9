"""Database access: asyncpg pools bound to a service's schema, and the migration runner."""

from codex_platform.db.cli import run_migrations
from codex_platform.db.migrations import (
    AppliedMigration,
    Migration,
    MigrationError,
    MigrationSource,
    advisory_lock_key,
    migrate,
)
from codex_platform.db.pool import connect, create_pool, init_connection, quote_ident, validate_schema_name

__all__ = [
    "AppliedMigration",
    "Migration",
    "MigrationError",
    "MigrationSource",
    "advisory_lock_key",
    "connect",
    "create_pool",
    "init_connection",
    "migrate",
    "quote_ident",
    "run_migrations",
    "validate_schema_name",
]
