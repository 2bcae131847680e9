"""The auth service under test: real Postgres (own schema), Redis (own prefix), RabbitMQ (own names),
served by a real uvicorn on a free port and called over HTTP, with mails written to a temp folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_harness import CHEAP_HASHES, TRUSTED_ORIGIN, AuthHarness

from codex_auth.app import create_app
from codex_auth.cli import CLI
from codex_auth.settings import AuthSettings
from codex_platform.db import migrate
from codex_platform.testing import serve


@pytest.fixture
def auth_settings_factory(
    database_url: str,
    redis_url: str,
    amqp_url: str,
    pg_schema: str,
    redis_prefix: str,
    queue_prefix: str,
    tmp_path: Path,
) -> Callable[..., AuthSettings]:
    """Settings for this test's namespaces; keyword arguments override (rate limits are loose
    unless a test sets them)."""

    def make(**overrides: Any) -> AuthSettings:
        values: dict[str, Any] = {
            "environment": "development",
            "database_url": database_url,
            "redis_url": redis_url,
            "amqp_url": amqp_url,
            "db_schema": pg_schema,
            "redis_prefix": redis_prefix,
            "bus_prefix": queue_prefix,
            "mail_folder": str(tmp_path / "mail"),
            "signup_limit": "1000/10",
            "login_limit": "1000/10",
            "mail_limit": "1000/60",
            **CHEAP_HASHES,
        }
        values.update(overrides)
        return AuthSettings(**values)

    return make


@pytest.fixture
async def migrated(database_url: str, pg_schema: str) -> str:
    await migrate(database_url, schema=pg_schema, sources=list(CLI.migrations))
    return pg_schema


@pytest.fixture
def start_auth(auth_settings_factory: Callable[..., AuthSettings], migrated: str) -> Callable[..., Any]:
    """`async with start_auth(**setting_overrides) as auth:` a running service (several may run)."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[AuthHarness]:
        settings = auth_settings_factory(**overrides)
        app = create_app(settings)
        async with serve(app) as url:
            harness = AuthHarness(app, url, settings, Path(settings.mail_folder))
            try:
                yield harness
            finally:
                await harness.aclose()

    return start


@pytest.fixture
async def auth(start_auth: Callable[..., Any]) -> AsyncIterator[AuthHarness]:
    async with start_auth() as harness:
        yield harness


@pytest.fixture
async def client(auth: AuthHarness) -> AsyncIterator[httpx.AsyncClient]:
    async with auth.client(headers={"Origin": TRUSTED_ORIGIN}) as http:
        yield http
