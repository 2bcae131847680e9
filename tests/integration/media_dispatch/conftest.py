"""media-dispatch against real Postgres and S3 (moto), with RunPod faked as its docs describe it.

`FakeRunpod` answers `/run` with `{"id", "status": "IN_QUEUE"}`, `/status/{id}` with the body the test
sets (404 for a job it does not know, as the cloud does once ttl or retention passed), `/cancel`, and
`/health`; `refuse_runs` scripts 429/5xx answers with `Retry-After`. The e2e tests use the real stand-in.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from codex_bus import BUS_MIGRATIONS
from codex_media_dispatch.bootstrap import Deps, bootstrap
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.db import MigrationSource, migrate
from codex_platform.storage import Storage
from codex_platform.testing import TokenIssuer

MIGRATIONS = [BUS_MIGRATIONS, MigrationSource("media-dispatch", "codex_media_dispatch.migrations")]
RUN_URL = "https://api.runpod.test/v2"


@dataclass
class FakeRunpod:
    runs: list[dict[str, Any]] = field(default_factory=list)  # accepted /run bodies, with "id"
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    refusals: list[tuple[int, str | None]] = field(default_factory=list)  # next /run answers
    refused: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def refuse_runs(self, *answers: tuple[int, str | None]) -> None:
        self.refusals.extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer test-key":
            return httpx.Response(401, json={"error": "unauthorized"})
        parts = request.url.path.split("/")  # /v2/{endpoint}/{operation}[/{id}]
        operation = parts[3]
        if operation == "run":
            if self.refusals:
                code, retry_after = self.refusals.pop(0)
                self.refused += 1
                headers = {"Retry-After": retry_after} if retry_after else {}
                return httpx.Response(code, headers=headers, json={"error": "try later"})
            job_id = f"rp-{next(self._ids)}"
            body = msgspec.json.decode(request.content)
            self.runs.append({**body, "id": job_id})
            self.statuses[job_id] = {"id": job_id, "status": "IN_QUEUE"}
            return httpx.Response(200, json={"id": job_id, "status": "IN_QUEUE"})
        if operation == "status":
            status = self.statuses.get(parts[4])
            return (
                httpx.Response(200, json=status)
                if status
                else httpx.Response(404, json={"error": "not found"})
            )
        if operation == "cancel":
            self.cancelled.append(parts[4])
            if parts[4] in self.statuses:
                self.statuses[parts[4]] = {"id": parts[4], "status": "CANCELLED"}
            return httpx.Response(200, json={"id": parts[4], "status": "CANCELLED"})
        if operation == "health":
            return httpx.Response(200, json={"jobs": {"inQueue": len(self.runs)}, "workers": {"idle": 0}})
        return httpx.Response(404)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


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
