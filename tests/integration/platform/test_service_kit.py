"""The service kit end to end: a toy service built with ServiceSettings, service_app and a bootstrap."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import asyncpg
import httpx
from litestar import get
from litestar.params import FromPath, SkipValidation
from redis.asyncio import Redis

from codex_platform.db import create_pool
from codex_platform.errors import Conflict, InvalidInput, NotFound
from codex_platform.http import CurrentPrincipal, require_roles
from codex_platform.service import ServiceSettings, service_app
from codex_platform.testing import TokenIssuer, bearer, serve


class ToySettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "toy-kit"
    port: int = 8099


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool[Any]
    redis: Redis
    settings: ToySettings


@asynccontextmanager
async def bootstrap(settings: ToySettings, *, redis_url: str | None = None) -> AsyncIterator[Deps]:
    pool = await create_pool(settings.database_url, schema=settings.db_schema)
    redis = Redis.from_url(redis_url or settings.redis_url)
    try:
        yield Deps(pool=pool, redis=redis, settings=settings)
    finally:
        await redis.aclose()
        await pool.close()


@get("/things/{name:str}", operation_id="getThing")
async def get_thing(name: FromPath[str], deps: SkipValidation[Deps]) -> dict[str, Any]:
    if name == "missing":
        raise NotFound("No such thing")
    if name == "busy":
        raise Conflict("The thing is busy")
    if name == "bad":
        raise InvalidInput("name", "must not be bad")
    return {"name": name, "one": await deps.pool.fetchval("SELECT 1")}


@get("/mine", operation_id="getMine", guards=[require_roles("creator", "admin")])
async def get_mine(principal: CurrentPrincipal) -> dict[str, str]:
    return {"user_id": principal.user_id, "role": principal.role}


def test_settings_derive_names_from_the_service() -> None:
    settings = ToySettings()
    assert settings.db_schema == "toy_kit"
    assert settings.redis_prefix == "codex:toy-kit:"
    assert ToySettings.env_prefix() == "CODEX_TOY_KIT_"


async def test_service_app_wires_deps_readiness_errors_and_tokens(
    database_url: str, redis_url: str, pg_schema: str, token_issuer: TokenIssuer
) -> None:
    settings = ToySettings(database_url=database_url, db_schema=pg_schema, jwks_url=token_issuer.jwks_url)
    app = service_app(settings, bootstrap, [get_thing, get_mine], overrides={"redis_url": redis_url})
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}

        assert (await client.get("/things/x")).json() == {"name": "x", "one": 1}
        missing = await client.get("/things/missing")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["detail"] == "No such thing"
        assert (await client.get("/things/busy")).status_code == 409
        bad = await client.get("/things/bad")
        assert bad.status_code == 400
        assert bad.json()["errors"][0]["field"] == "name"

        assert (await client.get("/mine")).status_code == 401
        customer = token_issuer.token(role="customer")
        assert (await client.get("/mine", headers=bearer(customer))).status_code == 403
        creator = token_issuer.token(role="creator", user_id="u-42")
        mine = await client.get("/mine", headers=bearer(creator))
        assert mine.json() == {"user_id": "u-42", "role": "creator"}
