"""The asyncpg connection types the bus accepts: a connection, or one borrowed from a pool."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["PgConnection"]

PgConnection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
