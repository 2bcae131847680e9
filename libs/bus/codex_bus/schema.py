"""The bus's own tables (outbox, inbox) as a migration source, importable without the service kit."""

from __future__ import annotations

from codex_platform.db import MigrationSource

__all__ = ["BUS_MIGRATIONS"]

BUS_MIGRATIONS = MigrationSource("bus", "codex_bus.migrations")
"""The outbox and inbox tables: applied before a service's own migrations."""
