"""`Resources`: what a bootstrap opens from the settings (pool, Redis, storage) unless a test gave its own.

```python
@asynccontextmanager
async def bootstrap(settings, *, pool=None, redis=None, storage=None) -> AsyncIterator[Deps]:
    async with Resources(settings) as opened:
        yield Deps(
            pool=await opened.pool(pool),          # the given one, or a new pool closed on exit
            redis=await opened.redis(redis),
            storage=await opened.storage(storage),
            ...
        )
```
What it opened is closed on exit, in reverse order; what it was given stays the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import asyncpg
from redis.asyncio import Redis

from codex_platform.db import create_pool
from codex_platform.mail import BackgroundMailer, Mailer, mailer_for
from codex_platform.settings import BaseSettings
from codex_platform.storage import Storage

__all__ = ["Clock", "Resources", "utc_now"]

Clock = Callable[[], datetime]
"""What a service asks the time of: `utc_now` in production, a test's own clock in tests."""


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


T = TypeVar("T")


class Resources:
    """Opens the settings' resources on demand and closes them on exit (see the module's docstring)."""

    def __init__(self, settings: BaseSettings, *, db_schema: str | None = None) -> None:
        self._settings = settings
        self._schema: str = db_schema or getattr(settings, "db_schema", "") or "public"
        self.stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        await self.stack.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self.stack.__aexit__(kind, error, tb)

    async def pool(self, given: asyncpg.Pool[Any] | None = None) -> asyncpg.Pool[Any]:
        """`given`, or a pool on `DATABASE_URL` with the service's schema first on the search path."""
        if given is not None:
            return given
        pool = await create_pool(self._settings.database_url, schema=self._schema)
        self.stack.push_async_callback(pool.close)
        return pool

    async def redis(self, given: Redis | None = None) -> Redis:
        """`given`, or a client of `REDIS_URL`."""
        if given is not None:
            return given
        redis = Redis.from_url(self._settings.redis_url)
        self.stack.push_async_callback(redis.aclose)
        return redis

    async def storage(self, given: Storage | None = None) -> Storage:
        """`given`, or the settings' bucket on their S3 API."""
        if given is not None:
            return given
        return await self.stack.enter_async_context(Storage.from_settings(self._settings))

    async def mail(self, given: Mailer | None = None) -> BackgroundMailer:
        """A mailer that sends in the background, its pending mails sent before exit: over `given`, or
        Resend when the settings hold a `resend_api_key`, else .eml files in their `mail_folder`
        (development; refused in production) from their `mail_from`."""
        settings = self._settings
        mailer = given or mailer_for(
            environment=settings.environment,
            resend_api_key=getattr(settings, "resend_api_key", None),
            sender=getattr(settings, "mail_from", "Codex <no-reply@codex.localhost>"),
            folder=Path(getattr(settings, "mail_folder", ".dev/mail")),
        )
        mail = BackgroundMailer(mailer)
        self.stack.push_async_callback(mail.aclose)
        return mail

    async def enter(self, given: T | None, context: AbstractAsyncContextManager[T]) -> T:
        """`given`, or `context` entered now and exited with the others (an HTTP client, say)."""
        if given is not None:
            return given
        return await self.stack.enter_async_context(context)
