"""The upload service under test: real Postgres (own schema), Redis (own prefix), RabbitMQ (own names)
and the S3 server (own bucket), served by a real uvicorn on a free port and called over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from upload_harness import PART, UploadHarness

from codex_platform.db import migrate
from codex_platform.testing import TokenIssuer, serve
from codex_platform.testing.services import S3Settings
from codex_upload.app import create_app
from codex_upload.cli import CLI
from codex_upload.settings import MIB, UploadSettings


@pytest.fixture
def upload_settings_factory(
    database_url: str,
    redis_url: str,
    amqp_url: str,
    pg_schema: str,
    redis_prefix: str,
    queue_prefix: str,
    s3_settings: S3Settings,
    s3_bucket: str,
    token_issuer: TokenIssuer,
) -> Callable[..., UploadSettings]:
    """Settings for this test's namespaces: multipart above 1 MiB in 5 MiB parts, so that a 3-part
    upload is small; keyword arguments override."""

    def make(**overrides: Any) -> UploadSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "amqp_url": amqp_url,
            "db_schema": pg_schema,
            "redis_prefix": redis_prefix,
            "bus_prefix": queue_prefix,
            "s3_endpoint_url": s3_settings.endpoint_url,
            "s3_access_key_id": s3_settings.access_key_id,
            "s3_secret_access_key": s3_settings.secret_access_key,
            "s3_region": s3_settings.region,
            "s3_bucket": s3_bucket,
            "jwks_url": token_issuer.jwks_url,
            "single_put_max_bytes": MIB,
            "part_size_bytes": PART,
            "max_upload_bytes": 100 * MIB,
            "create_limit": "1000/60",
        }
        values.update(overrides)
        return UploadSettings(**values)

    return make


@pytest.fixture
async def migrated(database_url: str, pg_schema: str) -> str:
    await migrate(database_url, schema=pg_schema, sources=list(CLI.migrations))
    return pg_schema


@pytest.fixture
def start_upload(
    upload_settings_factory: Callable[..., UploadSettings], migrated: str, token_issuer: TokenIssuer
) -> Callable[..., Any]:
    """`async with start_upload(**settings) as service:` runs the service for the block."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[UploadHarness]:
        settings = upload_settings_factory(**overrides)
        app = create_app(settings)
        async with serve(app) as url:
            harness = UploadHarness(app, url, settings, token_issuer)
            try:
                yield harness
            finally:
                await harness.aclose()

    return start


@pytest.fixture
async def upload_service(start_upload: Callable[..., Any]) -> AsyncIterator[UploadHarness]:
    async with start_upload() as service:
        yield service
