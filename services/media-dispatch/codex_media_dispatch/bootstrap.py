"""The one place where media-dispatch's dependencies are built. Tests call `bootstrap(...)` with their
own settings and, where they want, their own pool, storage or RunPod transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from codex_bus import Outbox
from codex_media_dispatch.runpod import RunpodClient
from codex_media_dispatch.settings import SERVICE, MediaDispatchSettings
from codex_platform.db import create_pool
from codex_platform.storage import Storage


@dataclass
class Deps:
    settings: MediaDispatchSettings
    pool: asyncpg.Pool[Any]
    storage: Storage
    """The bucket the renditions are written to (`s3_bucket`)."""
    runpod: RunpodClient
    outbox: Any  # codex_bus.Outbox, or a MemoryBus's outbox in handler tests
    stack: AsyncExitStack = field(repr=False, default_factory=AsyncExitStack)
    _sources: dict[str, Storage] = field(default_factory=dict, repr=False)

    async def source_storage(self, bucket: str) -> Storage:
        """The upload's bucket (the agreement says `s3_bucket`; another one is opened on demand)."""
        if bucket == self.storage.bucket:
            return self.storage
        if bucket not in self._sources:
            opened = Storage.from_settings(self.settings, bucket=bucket)
            self._sources[bucket] = await self.stack.enter_async_context(opened)
        return self._sources[bucket]


@asynccontextmanager
async def bootstrap(
    settings: MediaDispatchSettings,
    *,
    pool: asyncpg.Pool[Any] | None = None,
    storage: Storage | None = None,
    runpod_transport: httpx.AsyncBaseTransport | None = None,
    outbox: Any = None,
) -> AsyncIterator[Deps]:
    """Build the dependencies, yield them, and close what this call opened."""
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await create_pool(settings.database_url, schema=settings.db_schema)
            stack.push_async_callback(pool.close)
        if storage is None:
            storage = await stack.enter_async_context(Storage.from_settings(settings))
        runpod = RunpodClient(
            settings.run_url,
            settings.runpod_api_key,
            timeout_s=settings.runpod_timeout_s,
            transport=runpod_transport,
        )
        stack.push_async_callback(runpod.aclose)
        deps = Deps(
            settings=settings,
            pool=pool,
            storage=storage,
            runpod=runpod,
            outbox=outbox if outbox is not None else Outbox(source=SERVICE),
            stack=stack,
        )
        yield deps
