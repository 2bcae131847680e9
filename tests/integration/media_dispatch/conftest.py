"""media-dispatch against real Postgres and S3 (moto), with RunPod faked as its docs describe it:
`media_dispatch_support.FakeRunpod` (the e2e tests use the real stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from media_dispatch_support import FakeRunpod

from codex_bus import BUS_MIGRATIONS
from codex_media_dispatch.bootstrap import Deps, bootstrap
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.db import MigrationSource, migrate
from codex_platform.storage import Storage
from codex_platform.testing import TokenIssuer

MIGRATIONS = [BUS_MIGRATIONS, MigrationSource("media-dispatch", "codex_media_dispatch.migrations")]
RUN_URL = "https://api.runpod.test/v2"


@pytest.fixture
async def migrated(database_url: str, pg_schema: str) -> str:
    await migrate(database_url, schema=pg_schema, sources=MIGRATIONS)
    return pg_schema


@pytest.fixture
def fake_runpod() -> FakeRunpod:
    return FakeRunpod()


@pytest.fixture
def settings_factory(
    database_url: str, migrated: str, s3_settings: Any, s3_bucket: str, token_issuer: TokenIssuer
) -> Callable[..., MediaDispatchSettings]:
    def make(**overrides: Any) -> MediaDispatchSettings:
        values: dict[str, Any] = {
            "database_url": database_url, "db_schema": migrated, "jwks_url": token_issuer.jwks_url,
            "s3_endpoint_url": s3_settings.endpoint_url, "s3_access_key_id": s3_settings.access_key_id,
            "s3_secret_access_key": s3_settings.secret_access_key, "s3_bucket": s3_bucket,
            "runpod_api_base": RUN_URL, "runpod_endpoint_id": "ep", "runpod_api_key": "test-key",
            "public_url": "https://media.example.test", "max_in_flight": 2, "retry_base_s": 0.2,
            "retry_max_s": 1.0, "poll_interval_s": 0.0, "submit_grace_s": 30.0, "job_ttl_s": 600,
            "presign_margin_s": 300,
        }  # fmt: skip
        values.update(overrides)
        return MediaDispatchSettings(**values)

    return make


@pytest.fixture
async def deps(
    settings_factory: Callable[..., MediaDispatchSettings],
    db_pool: asyncpg.Pool[Any],
    storage: Storage,
    fake_runpod: FakeRunpod,
) -> AsyncIterator[Deps]:
    async with bootstrap(
        settings_factory(), pool=db_pool, storage=storage, runpod_transport=fake_runpod.transport
    ) as built:
        yield built
