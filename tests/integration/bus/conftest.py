"""Fixtures of the bus's integration tests: a Bus isolated by `queue_prefix`, a migrated schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from bus_support import delete_declared

from codex_bus import BUS_MIGRATIONS, Bus, Topology
from codex_platform.db import migrate


@pytest.fixture
async def bus(amqp_url: str, queue_prefix: str) -> AsyncIterator[Bus]:
    """A connected Bus whose names start with this test's prefix; what it declared is deleted after."""
    async with Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="test-bus") as connected:
        yield connected
        await delete_declared(connected)


@pytest.fixture
async def bus_pool(database_url: str, pg_schema: str, db_pool: asyncpg.Pool) -> asyncpg.Pool:
    """`db_pool` on a schema migrated with the bus's outbox and inbox tables."""
    await migrate(database_url, schema=pg_schema, sources=[BUS_MIGRATIONS])
    return db_pool
