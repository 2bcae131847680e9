"""Pytest fixtures: the session's services, and per-test isolation within them.

Session fixtures (`database_url`, `amqp_url`, `redis_url`, `s3_settings`) find or start a service
once. Per-test fixtures (`pg_schema`, `db_pool`, `queue_prefix`, `redis_prefix`, `s3_bucket`,
`storage`) give each test its own namespace and clean it afterwards, so tests run in any order
and in parallel. Heavy libraries are imported inside the fixtures: this plugin loads in every
pytest run of the workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from codex_platform.testing.queues import Leftovers, delete_leftovers, delete_prefixed, new_queue_prefix
from codex_platform.testing.services import (
    S3Settings,
    amqp_service,
    postgres_service,
    redis_service,
    s3_service,
)

if TYPE_CHECKING:
    import asyncpg

    from codex_platform.storage import Storage

__all__ = [
    "amqp_url",
    "database_url",
    "db_pool",
    "pg_schema",
    # Hooks: pytest finds them in the plugin module, as it finds the fixtures.
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "queue_prefix",
    "redis_prefix",
    "redis_url",
    "s3_bucket",
    "s3_settings",
    "storage",
    "unique_name",
]


def unique_name(prefix: str, length: int = 10) -> str:
    """`prefix` followed by `length` random hex digits: a name no other test run uses."""
    return prefix + uuid.uuid4().hex[:length]


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """Postgres DSN: `DATABASE_URL`, else a testcontainers Postgres, else the local default."""
    with postgres_service() as url:
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """RabbitMQ URL: `AMQP_URL`, else a testcontainers RabbitMQ, else the local default."""
    with amqp_service() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Redis URL: `REDIS_URL`, else a testcontainers Redis, else the local default."""
    with redis_service() as url:
        yield url


@pytest.fixture(scope="session")
def s3_settings() -> Iterator[S3Settings]:
    """S3 endpoint and keys: `S3_ENDPOINT_URL` (+ `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`,
    `S3_REGION`), else a testcontainers MinIO, else a moto server on a free local port."""
    with s3_service() as settings:
        yield settings


@pytest.fixture
async def pg_schema(database_url: str) -> AsyncIterator[str]:
    """The name of a fresh, empty Postgres schema for this test; dropped (CASCADE) afterwards."""
    from codex_platform.db import connect, quote_ident

    schema = unique_name("test_", 12)
    conn = await connect(database_url)
    try:
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
    finally:
        await conn.close()
    yield schema
    conn = await connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def db_pool(database_url: str, pg_schema: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool (`create_pool`) whose search_path is this test's `pg_schema`."""
    from codex_platform.db import create_pool

    pool = await create_pool(database_url, schema=pg_schema, min_size=1, max_size=4)
    yield pool
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except TimeoutError:
        # A test left a connection checked out; do not let it hang the session.
        pool.terminate()


@pytest.fixture
def queue_prefix(amqp_url: str) -> Iterator[str]:
    """A unique prefix (e.g. `test-66a1f0c2b7e1-3f9a1c.`) for this test's exchange and queue names.

    Afterwards, queues and exchanges whose names start with it are deleted through the RabbitMQ
    management API when one answers; else at the end of the session, with what other sessions left
    behind (codex_platform.testing.queues says which, and when).
    """
    prefix = new_queue_prefix(amqp_url)
    yield prefix
    delete_prefixed(amqp_url, prefix)


_deleted_at_end: list[Leftovers] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Delete the names this session's prefixes left on the broker, and stale ones of other sessions."""
    deleted = delete_leftovers()
    if deleted and (deleted.queues or deleted.exchanges):
        _deleted_at_end.append(deleted)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say what the session's end deleted on the broker (a line, only when it deleted anything)."""
    for deleted in _deleted_at_end:
        terminalreporter.write_line(
            f"codex: deleted {len(deleted.queues)} queues and {len(deleted.exchanges)} exchanges "
            "that tests left on the broker"
        )


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[str]:
    """A unique key prefix (e.g. `test:3f9a1c2e:`); keys starting with it are deleted afterwards."""
    import redis.asyncio as aioredis

    prefix = unique_name("test:", 8) + ":"
    yield prefix
    client = aioredis.from_url(redis_url)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=prefix + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await client.delete(*batch)
                batch.clear()
        if batch:
            await client.delete(*batch)
    finally:
        await client.aclose()


@pytest.fixture
async def s3_bucket(s3_settings: S3Settings) -> AsyncIterator[str]:
    """The name of a fresh bucket for this test; emptied (objects and open multipart uploads)
    and deleted afterwards."""
    bucket = unique_name("test-", 12)
    async with s3_settings.storage(bucket) as storage:
        await storage.ensure_bucket()
        yield bucket
        await _empty_and_delete(storage)


async def _empty_and_delete(storage: Storage) -> None:
    from botocore.exceptions import ClientError

    client, bucket = storage.client, storage.bucket
    uploads = await client.list_multipart_uploads(Bucket=bucket)
    for upload in uploads.get("Uploads", []):
        await storage.abort_multipart_upload(upload["Key"], upload["UploadId"])
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            await client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    # An object written concurrently by a still-running consumer may make this fail; a leftover
    # uniquely-named bucket harms no other test.
    with contextlib.suppress(ClientError):
        await client.delete_bucket(Bucket=bucket)


@pytest.fixture
async def storage(s3_settings: S3Settings, s3_bucket: str) -> AsyncIterator[Storage]:
    """An open `Storage` on this test's `s3_bucket`."""
    async with s3_settings.storage(s3_bucket) as opened:
        yield opened
