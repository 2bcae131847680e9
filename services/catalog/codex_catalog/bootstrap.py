"""The one place where the catalog's dependencies are built. Tests call `bootstrap(...)` with their
own settings and, where they want, their own pool, storage or clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from codex_bus import Outbox
from codex_catalog.settings import CatalogSettings
from codex_platform.service import Clock, Resources, utc_now
from codex_platform.storage import Storage


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
    async with Resources(settings) as opened:
        yield Deps(
            settings=settings,
            pool=await opened.pool(pool),
            storage=await opened.storage(storage),
            outbox=Outbox(source=settings.service),
            clock=clock,
        )
