"""The one place where auth's dependencies are built. Tests call `bootstrap(...)` with their own
settings and, where they want, their own pool, Redis client, mailer or clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from redis.asyncio import Redis

from codex_auth.background import Background
from codex_auth.deps import Deps
from codex_auth.keyring import KeyRing
from codex_auth.keys import KeySealer
from codex_auth.passwords import Argon2Params, PasswordHasher
from codex_auth.settings import AuthSettings
from codex_bus import Outbox
from codex_platform.mail import Mailer
from codex_platform.ratelimit import FailureLock, RateLimiter
from codex_platform.service import Clock, Resources, utc_now


def key_grace(settings: AuthSettings) -> timedelta:
    """How long a retired key stays published: see keyring.py for why these three terms."""
    return (
        timedelta(seconds=settings.access_token_ttl_s)
        + timedelta(seconds=settings.key_cache_ttl_s)
        + timedelta(seconds=settings.jwt_leeway_s)
    )


def key_lead(settings: AuthSettings) -> timedelta:
    """How long a new key is published before it signs: every replica's key ring (cache_ttl) and
    every verifier's copy of the JWKS (max-age cache_ttl) has it by then (see keyring.py)."""
    return 2 * timedelta(seconds=settings.key_cache_ttl_s)


@asynccontextmanager
async def bootstrap(
    settings: AuthSettings,
    *,
    pool: asyncpg.Pool[Any] | None = None,
    redis: Redis | None = None,
    mailer: Mailer | None = None,
    clock: Clock = utc_now,
) -> AsyncIterator[Deps]:
    """Build the dependencies, yield them, and close what this call opened."""
    async with Resources(settings) as opened:
        stack = opened.stack
        pool = await opened.pool(pool)
        redis = await opened.redis(redis)
        mail = await opened.mail(mailer)  # pending mails go out before the process ends
        background = Background()
        stack.push_async_callback(background.drain)  # first: its work may still hand mails over
        params = Argon2Params(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        passwords = PasswordHasher(
            params, max_concurrency=settings.hash_concurrency, max_waiting=settings.hash_queue_limit
        )
        stack.callback(passwords.close)
        keys = KeyRing(
            pool,
            KeySealer(settings.auth_secret),
            cache_ttl=timedelta(seconds=settings.key_cache_ttl_s),
            grace=key_grace(settings),
            lead=key_lead(settings),
            clock=clock,
        )
        yield Deps(
            settings=settings,
            pool=pool,
            redis=redis,
            passwords=passwords,
            keys=keys,
            limiter=RateLimiter(redis, prefix=settings.redis_prefix),
            login_lock=FailureLock(
                redis,
                prefix=settings.redis_prefix,
                threshold=settings.login_lock_threshold,
                lock_s=settings.login_lock_s,
            ),
            mail=mail,
            background=background,
            outbox=Outbox(source=settings.service),
            clock=clock,
        )
