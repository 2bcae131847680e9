"""The one place where the upload service's dependencies are built. Tests call `bootstrap(...)` with
their own settings and, where they want, their own pool, Redis client, storage or clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis

from codex_bus import Outbox
from codex_platform.db import create_pool
from codex_platform.ratelimit import RateLimiter
from codex_platform.storage import Storage
from codex_upload.settings import UploadSettings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    settings: UploadSettings
    pool: asyncpg.Pool[Any]
    redis: Redis
    storage: Storage
    outbox: Outbox
    limiter: RateLimiter
    clock: Clock


@asynccontextmanager
async def bootstrap(
    settings: UploadSettings,
    *,
    pool: asyncpg.Pool[Any] | None = None,
    redis: Redis | None = None,
    storage: Storage | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[Deps]:
    """Build the dependencies, yield them, and close what this call opened."""
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await create_pool(settings.database_url, schema=settings.db_schema)
            stack.push_async_callback(pool.close)
        if redis is None:
            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
        if storage is None:
            storage = await stack.enter_async_context(Storage.from_settings(settings))
        yield Deps(
            settings=settings,
            pool=pool,
            redis=redis,
            storage=storage,
            outbox=Outbox(source=settings.service),
            limiter=RateLimiter(redis, prefix=settings.redis_prefix),
            clock=clock,
        )
