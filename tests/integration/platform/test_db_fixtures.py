"""The pytest plugin end to end: an inner pytest run uses the per-test fixtures (pg_schema, db_pool,
redis_prefix, s3_bucket, queue_prefix) and this test checks that each left nothing behind, nor
(at the session's end) what a test left on the broker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import aio_pika
import pytest
import redis.asyncio as aioredis

from codex_platform.db import connect
from codex_platform.testing import S3Settings
from codex_platform.testing.queues import STALE_AFTER

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


def run_inner_session(tmp_path: Path, source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the test module `source` in a pytest session of its own, with the Codex plugin loaded."""
    (tmp_path / "test_inner.py").write_text(source)
    return subprocess.run(
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


async def test_per_test_fixtures_clean_up_after_themselves(
    tmp_path: Path, database_url: str, redis_url: str, amqp_url: str, s3_settings: S3Settings
) -> None:
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
    result = run_inner_session(tmp_path, INNER_TEST, env)
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


INNER_LEAVING_QUEUES = textwrap.dedent(
    """
    import json, os
    import aio_pika

    async def test_leaves_a_quorum_queue_and_an_exchange(amqp_url, queue_prefix):
        # As a test that fails before its own cleanup would.
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            arguments = {"x-queue-type": "quorum"}
            await channel.declare_queue(queue_prefix + "catalog", durable=True, arguments=arguments)
            await channel.declare_exchange(queue_prefix + "codex.events", "topic", durable=True)
        with open(os.environ["INNER_NAMES"], "w") as out:
            json.dump({"queue_prefix": queue_prefix}, out)
    """
)


@pytest.mark.skipif(
    shutil.which("rabbitmqctl") is None or os.geteuid() != 0, reason="needs rabbitmqctl as root"
)
async def test_the_session_end_deletes_its_queues_and_stale_ones_only(tmp_path: Path, amqp_url: str) -> None:
    now = int(time.time())
    stale_session = f"test-{now - int(STALE_AFTER.total_seconds()) - 60:08x}0bad-000001."
    young_session = f"test-{now - 60:08x}0bad-000002."  # another session, perhaps still running
    before_tokens = f"test-{uuid.uuid4().hex[:8]}."
    bystander = f"codex-bystander-{uuid.uuid4().hex[:8]}"
    left_by_others = [stale_session + "catalog", before_tokens + "catalog"]
    kept = [young_session + "catalog", bystander]
    async with await aio_pika.connect(amqp_url) as connection:
        channel = await connection.channel()
        for name in left_by_others + kept:
            await channel.declare_queue(name, durable=True)
        await channel.declare_exchange(stale_session + "codex.events", "topic", durable=True)
    try:
        names_file = tmp_path / "names.json"
        env = {**os.environ, "INNER_NAMES": str(names_file), "AMQP_URL": amqp_url}
        result = run_inner_session(tmp_path, INNER_LEAVING_QUEUES, env)
        assert result.returncode == 0, result.stdout + result.stderr
        inner_prefix = json.loads(names_file.read_text())["queue_prefix"]

        queues, exchanges = broker_names("list_queues"), broker_names("list_exchanges")
        assert not [name for name in queues | exchanges if name.startswith(inner_prefix)]
        assert not set(left_by_others) & queues
        assert stale_session + "codex.events" not in exchanges
        assert set(kept) <= queues
    finally:
        async with await aio_pika.connect(amqp_url) as connection:
            channel = await connection.channel()
            for name in kept:
                await channel.queue_delete(name)


def broker_names(command: str) -> set[str]:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", command, "--no-table-headers", "name"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.split())
