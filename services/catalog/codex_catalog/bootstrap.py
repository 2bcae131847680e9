"""The one place where the catalog's dependencies are built. Tests call `bootstrap(...)` with their
own settings and, where they want, their own pool, storage or clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from codex_bus import Outbox
from codex_catalog.settings import CatalogSettings
from codex_platform.db import create_pool
from codex_platform.storage import Storage

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    settings: CatalogSettings
    pool: asyncpg.Pool[Any]
    storage: Storage
    """The bucket of the renditions: playback URLs are presigned for it."""
    outbox: Outbox
    """Events are added inside the transaction of the change they report; the relay publishes them."""
    clock: Clock


@asynccontextmanager
async def bootstrap(
    settings: CatalogSettings,
    *,
    pool: asyncpg.Pool[Any] | None = None,
    storage: Storage | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[Deps]:
    """Build the dependencies, yield them, and close what this call opened."""
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await create_pool(settings.database_url, schema=settings.db_schema)
            stack.push_async_callback(pool.close)
        if storage is None:
            storage = await stack.enter_async_context(Storage.from_settings(settings))
        yield Deps(
            settings=settings,
            pool=pool,
            storage=storage,
            outbox=Outbox(source=settings.service),
            clock=clock,
        )
