"""media-dispatch as it runs in production: `python -m codex_media_dispatch.cli migrate | serve | worker`
processes, against the local RunPod endpoint (its SDK workers run a quick stand-in of the transcode:
these tests are about the service, and 20 real transcodes on a shared CPU take minutes). Two replicas
at once submit each job once and keep to the in-flight limit together; replicas SIGKILLed in the
middle of 20 jobs leave no asset in limbo once they are restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from test_media_dispatch_harness import (
    TERMINAL,
    eventually,
    free_port,
    make_clip,
    outbox_events,
    publish,
    service_settings,
    settings_env,
    start_transcode_endpoint,
    stored_upload,
)

from codex_bus import Bus, Topology
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.storage import Storage
from codex_platform.testing import S3Settings

MAX_IN_FLIGHT = 3


@dataclass
class Replica:
    """One replica of the service: its HTTP process and its worker process."""

    serve: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    base_url: str
    metrics_url: str

    async def metrics(self) -> dict[str, float]:
        """Both processes' media-dispatch samples, added up: `name{labels}` -> value."""
        samples: dict[str, float] = {}
        async with httpx.AsyncClient() as client:
            for url in (f"{self.base_url}/metrics", self.metrics_url):
                for line in (await client.get(url)).text.splitlines():
                    if line.startswith("media_dispatch_"):
                        name, value = line.rsplit(" ", 1)
                        samples[name] = samples.get(name, 0.0) + float(value)
        return samples

    def kill(self) -> None:
        for process in (self.serve, self.worker):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in (self.worker, self.serve):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.worker, self.serve):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cli(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "codex_media_dispatch.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def start_replica(settings: MediaDispatchSettings, logs: Path, name: str) -> Replica:
    """Serving (/readyz) and working (its /metrics answer); another try on other ports if a process
    exits first (a free port found here can be taken by someone else before the process binds it)."""
    for _ in range(3):
        port, metrics_port = free_port(), free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = settings_env(settings)
        env[MediaDispatchSettings.env_prefix() + "PUBLIC_URL"] = base_url
        env[MediaDispatchSettings.env_prefix() + "WORKER_METRICS_PORT"] = str(metrics_port)
        serve = cli(env, logs / f"{name}-serve.log", "serve", "--port", str(port))
        worker = cli(env, logs / f"{name}-worker.log", "worker")
        replica = Replica(serve, worker, base_url, f"http://127.0.0.1:{metrics_port}/metrics")

        async def up(replica: Replica = replica) -> bool:
            if replica.serve.poll() is not None or replica.worker.poll() is not None:
                raise ProcessLookupError
            try:
                async with httpx.AsyncClient() as client:
                    ready = await client.get(f"{replica.base_url}/readyz")
                    working = await client.get(replica.metrics_url)
            except httpx.TransportError:
                return False
            return ready.status_code == 200 and working.status_code == 200

        try:
            await eventually(up, timeout=60, what=f"replica {name} serving and working")
        except ProcessLookupError:
            replica.kill()
            continue
        except AssertionError:
            replica.kill()
            raise
        return replica
    raise AssertionError(f"replica {name} exited at start three times; see {logs}")


async def start_replicas(settings: MediaDispatchSettings, logs: Path, *names: str) -> list[Replica]:
    started = await asyncio.gather(
        *(start_replica(settings, logs, name) for name in names), return_exceptions=True
    )
    replicas = [r for r in started if isinstance(r, Replica)]
    if len(replicas) < len(names):
        await stop_all(replicas)
        raise next(r for r in started if isinstance(r, BaseException))
    return replicas


async def stop_all(replicas: list[Replica]) -> None:
    await asyncio.gather(*(asyncio.to_thread(replica.stop) for replica in replicas))


@pytest.fixture(scope="module")
def endpoint(runpod_worker_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = start_transcode_endpoint(
        tmp_path_factory.mktemp("md-proc-runpod"), runpod_worker_python, workers=2
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("md-proc-clip") / "clip.mp4", seconds=0.5)


@pytest.fixture
def settings(
    database_url: str,
    pg_schema: str,
    amqp_url: str,
    queue_prefix: str,
    s3_settings: S3Settings,
    s3_bucket: str,
    endpoint: Any,
    tmp_path: Path,
) -> MediaDispatchSettings:
    built = service_settings(
        database_url=database_url, schema=pg_schema, amqp_url=amqp_url, bus_prefix=queue_prefix,
        s3=s3_settings, bucket=s3_bucket, endpoint=endpoint, max_in_flight=MAX_IN_FLIGHT, submit_grace_s=3.0,
        log_format="json", gauge_interval_s=0.2,
    )  # fmt: skip
    migrated = subprocess.run(
        [sys.executable, "-m", "codex_media_dispatch.cli", "migrate"],
        env=settings_env(built), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0 and "0001_assets" in migrated.stdout, migrated.stdout + migrated.stderr
    return built


async def publish_uploads(
    settings: MediaDispatchSettings, storage: Storage, clip: bytes, count: int
) -> list[str]:
    uploads = [await stored_upload(storage, clip) for _ in range(count)]
    async with Bus(
        settings.amqp_url, topology=Topology(prefix=settings.bus_prefix), name="e2e-upload"
    ) as bus:
        await publish(bus, *uploads)
    return [u.upload_id for u in uploads]


async def all_terminal(pool: asyncpg.Pool[Any], count: int) -> bool:
    rows = await pool.fetch("SELECT state FROM assets")
    return len(rows) == count and all(row["state"] in TERMINAL for row in rows)


async def test_two_replicas_submit_each_job_once_within_the_in_flight_limit(
    settings: MediaDispatchSettings, db_pool: asyncpg.Pool[Any], storage: Storage, clip: bytes, tmp_path: Path
) -> None:
    replicas = await start_replicas(settings, tmp_path, "a", "b")
    try:
        uploads = await publish_uploads(settings, storage, clip, 8)
        most_in_flight = 0

        async def done() -> bool:
            nonlocal most_in_flight
            in_flight = await db_pool.fetchval(
                "SELECT count(*) FROM assets WHERE state IN ('submitted', 'running')"
            )
            most_in_flight = max(most_in_flight, in_flight)
            return await all_terminal(db_pool, len(uploads))

        await eventually(done, timeout=180, what="8 assets terminal")
        await asyncio.sleep(0.5)
        samples = [await replica.metrics() for replica in replicas]
    finally:
        await stop_all(replicas)
    rows = await db_pool.fetch("SELECT state, attempts FROM assets")
    assert [(r["state"], r["attempts"]) for r in rows] == [("ready", 1)] * 8
    # one job per asset reached RunPod, and never more than the limit were in flight across replicas
    assert await db_pool.fetchval("SELECT count(*) FROM jobs WHERE runpod_job_id IS NOT NULL") == 8
    assert await db_pool.fetchval("SELECT count(*) FROM jobs") == 8
    assert 1 <= most_in_flight <= MAX_IN_FLIGHT
    ready = await outbox_events(db_pool, "media.asset.ready.v1")
    assert sorted(e["upload_id"] for e in ready) == sorted(uploads)

    # the metrics of both replicas (HTTP side: webhooks; workers: dispatcher, reconciler) add up
    def total(prefix: str) -> float:
        return sum(v for sample in samples for k, v in sample.items() if k.startswith(prefix))

    assert (
        total('media_dispatch_transitions_total{source="webhook",to="ready"}')
        + total('media_dispatch_transitions_total{source="reconciler",to="ready"}')
        == 8
    )
    assert total("media_dispatch_submissions_total") == 8
    assert total("media_dispatch_time_to_ready_seconds_count") == 8
    assert total("media_dispatch_gpu_seconds_total") > 0
    assert all(sample['media_dispatch_assets{state="ready"}'] == 8 for sample in samples)
    # both replicas' workers did some of the work
    logs = [(tmp_path / f"{name}-worker.log").read_text() for name in ("a", "b")]
    assert all(
        any(word in log for word in ("asset_queued", "runpod_job_submitted", "asset_transition"))
        for log in logs
    )


async def test_replicas_killed_in_the_middle_of_20_jobs_leave_no_asset_in_limbo(
    settings: MediaDispatchSettings, db_pool: asyncpg.Pool[Any], storage: Storage, clip: bytes, tmp_path: Path
) -> None:
    replicas = await start_replicas(settings, tmp_path, "a", "b")
    uploads = await publish_uploads(settings, storage, clip, 20)

    async def some_ready() -> bool:
        return bool(await db_pool.fetchval("SELECT count(*) >= 4 FROM assets WHERE state = 'ready'"))

    try:
        await eventually(some_ready, timeout=120, what="a few assets ready")
    finally:
        for replica in replicas:
            replica.kill()
    before = dict(await db_pool.fetch("SELECT state, count(*) FROM assets GROUP BY state"))
    assert sum(before.values()) == 20 and before.get("ready", 0) < 20, before

    replicas = await start_replicas(settings, tmp_path, "a2", "b2")
    try:
        await eventually(
            lambda: all_terminal(db_pool, 20), timeout=240, what="20 assets terminal after the kill"
        )
        await asyncio.sleep(1.0)  # late webhooks of jobs that ran while no replica was up
    finally:
        await stop_all(replicas)
    rows = await db_pool.fetch("SELECT upload_id, state FROM assets")
    assert sorted(r["upload_id"] for r in rows) == sorted(uploads)
    assert {r["state"] for r in rows} == {"ready"}
    ready = await outbox_events(db_pool, "media.asset.ready.v1")
    assert sorted(e["upload_id"] for e in ready) == sorted(uploads)  # one event each
    assert os.path.exists(tmp_path / "a-worker.log")
