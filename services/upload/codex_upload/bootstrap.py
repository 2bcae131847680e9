"""The one place where the upload service's dependencies are built. Tests call `bootstrap(...)` with
their own settings and, where they want, their own pool, Redis client, storage or clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from redis.asyncio import Redis

from codex_bus import Outbox
from codex_platform.ratelimit import RateLimiter
from codex_platform.service import Clock, Resources, utc_now
from codex_platform.storage import Storage
from codex_upload.settings import UploadSettings


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
    async with Resources(settings) as opened:
        pool = await opened.pool(pool)
        redis = await opened.redis(redis)
        yield Deps(
            settings=settings,
            pool=pool,
            redis=redis,
            storage=await opened.storage(storage),
            outbox=Outbox(source=settings.service),
            limiter=RateLimiter(redis, prefix=settings.redis_prefix),
            clock=clock,
        )
