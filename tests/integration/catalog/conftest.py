"""The catalog under test: real Postgres (own schema), S3 (moto, own bucket), served by a real uvicorn
and called over HTTP with tokens signed as auth signs them; events fed through its own handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from catalog_harness import Catalog

from codex_catalog.app import create_app
from codex_catalog.cli import CLI
from codex_catalog.settings import CatalogSettings
from codex_platform.db import migrate
from codex_platform.testing import S3Settings, TokenIssuer, serve


@pytest.fixture
def catalog_settings(
    database_url: str,
    amqp_url: str,
    pg_schema: str,
    queue_prefix: str,
    s3_settings: S3Settings,
    s3_bucket: str,
    token_issuer: TokenIssuer,
) -> Callable[..., CatalogSettings]:
    def make(**overrides: Any) -> CatalogSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "amqp_url": amqp_url,
            "db_schema": pg_schema,
            "bus_prefix": queue_prefix,
            "s3_endpoint_url": s3_settings.endpoint_url,
            "s3_access_key_id": s3_settings.access_key_id,
            "s3_secret_access_key": s3_settings.secret_access_key,
            "s3_region": s3_settings.region,
            "s3_bucket": s3_bucket,
            "jwks_url": token_issuer.jwks_url,
            **overrides,
        }
        return CatalogSettings(**values)

    return make


@pytest.fixture
async def migrated(database_url: str, pg_schema: str) -> str:
    await migrate(database_url, schema=pg_schema, sources=list(CLI.migrations))
    return pg_schema


@pytest.fixture
async def catalog(
    catalog_settings: Callable[..., CatalogSettings], migrated: str, token_issuer: TokenIssuer
) -> AsyncIterator[Catalog]:
    app = create_app(catalog_settings())
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Catalog(app, client, token_issuer)
