"""The pytest plugin end to end: an inner pytest run uses the per-test fixtures (pg_schema, db_pool,
redis_prefix, s3_bucket, queue_prefix) and this test checks that each left nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import redis.asyncio as aioredis
from codex_platform.db import connect
from codex_platform.testing import S3Settings

INNER_TEST = textwrap.dedent(
    """
    import json, os

    async def test_uses_every_fixture(db_pool, pg_schema, redis_prefix, redis_url, s3_bucket, storage,
                                      queue_prefix):
        await db_pool.execute("CREATE TABLE leftovers (id int)")
        assert await db_pool.fetchval("SHOW search_path") == pg_schema

        import redis.asyncio as aioredis
        client = aioredis.from_url(redis_url)
        for i in range(1200):  # more than one SCAN batch
            await client.set(f"{redis_prefix}k{i}", "v")
        await client.aclose()

        await storage.put_bytes("a/b.txt", b"data")
        await storage.create_multipart_upload("big.mp4")
        assert storage.bucket == s3_bucket

        with open(os.environ["INNER_NAMES"], "w") as out:
            json.dump({"schema": pg_schema, "redis_prefix": redis_prefix, "bucket": s3_bucket,
                       "queue_prefix": queue_prefix}, out)
    """
)


async def test_per_test_fixtures_clean_up_after_themselves(
    tmp_path: Path, database_url: str, redis_url: str, amqp_url: str, s3_settings: S3Settings
) -> None:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    names_file = tmp_path / "names.json"
    bystander = f"bystander:{uuid.uuid4().hex}"
    client = aioredis.from_url(redis_url)
    await client.set(bystander, "stays", ex=60)
    env = {
        **os.environ,
        "INNER_NAMES": str(names_file),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AMQP_URL": amqp_url,
        "S3_ENDPOINT_URL": s3_settings.endpoint_url,
        "S3_ACCESS_KEY_ID": s3_settings.access_key_id,
        "S3_SECRET_ACCESS_KEY": s3_settings.secret_access_key,
        "S3_REGION": s3_settings.region,
    }
    # Blocking is fine here: moto serves from its own thread, and nothing else runs meanwhile.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path / "test_inner.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=session",
            "-o",
            "asyncio_default_test_loop_scope=session",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = json.loads(names_file.read_text())

    assert names["queue_prefix"].startswith("test-")
    conn = await connect(database_url)
    try:
        schema_count = await conn.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", names["schema"]
        )
    finally:
        await conn.close()
    assert schema_count == 0
    try:
        assert [k async for k in client.scan_iter(match=names["redis_prefix"] + "*")] == []
        assert await client.get(bystander) == b"stays"
    finally:
        await client.delete(bystander)
        await client.aclose()
    async with s3_settings.storage(names["bucket"]) as storage:
        buckets = await storage.client.list_buckets()
    assert names["bucket"] not in [b["Name"] for b in buckets["Buckets"]]
