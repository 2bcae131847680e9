"""Benchmark of media-dispatch (`make bench`): figures measured in one run on this machine, not a test.

1. `upload.completed.v1` consumed → `/run` submitted: 500 events published at a steady 100/s to the bus,
   the service's worker (`python -m codex_media_dispatch.cli worker`, in-flight limit above 500) turning
   each into an asset, presigned URLs and a `/run`; RunPod is a stand-in answering at once that notes
   when each `/run` arrives. p50/p99 of arrival minus publication.
2. The pipeline's own overhead for a 10 s clip (320x180, 15 fps, AAC): upload.completed published →
   media.asset.ready.v1 heard on the bus, minus the worker's execution time and the time the job waited
   in RunPod's queue for a worker (`executionTime`, `delayTime` of `/status`), each shown; the
   local RunPod endpoint with one real transcode worker (gpu/.venv) on the CPU, serve and worker
   processes, 10 clips one after another. p50/p99.
Environment: DATABASE_URL, AMQP_URL, S3_ENDPOINT_URL (defaults: the local services, moto in-process).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import av
import httpx
import uvicorn
from av.video.frame import PictureType

from codex_bus import Bus, ConsumerSettings, MessageBatch, Topology, UnroutableMessage, subscribe
from codex_contracts.events import AssetReadyV1, UploadCompletedV1
from codex_media_dispatch.cli import CLI
from codex_platform.db import migrate
from codex_platform.testing.services import S3Settings, s3_service

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
GPU_PYTHON = ROOT / "gpu" / ".venv" / "bin" / "python"
EVENTS, RATE = 500, 100.0
CLIPS = 10
KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def instant_runpod(arrivals: dict[str, float]) -> Iterator[str]:
    """RunPod's /run answered at once (a bare ASGI app in a thread); notes each job's arrival."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/run"):
            arrivals[json.loads(body)["input"]["asset_id"]] = time.time()
        answer = json.dumps({"id": uuid.uuid4().hex, "status": "IN_QUEUE"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        server.should_exit = True
        thread.join(10)


def service_env(
    schema: str, prefix: str, s3: S3Settings, bucket: str, runpod_base: str, **extra: Any
) -> dict[str, str]:
    values = {
        "DATABASE_URL": DATABASE_URL, "AMQP_URL": AMQP_URL, "DB_SCHEMA": schema, "BUS_PREFIX": prefix,
        "S3_ENDPOINT_URL": s3.endpoint_url, "S3_ACCESS_KEY_ID": s3.access_key_id,
        "S3_SECRET_ACCESS_KEY": s3.secret_access_key, "S3_BUCKET": bucket, "RUNPOD_API_BASE": runpod_base,
        "RUNPOD_ENDPOINT_ID": "codex-transcode", "RUNPOD_API_KEY": KEY, "LOG_LEVEL": "WARNING",
        **{k.upper(): str(v) for k, v in extra.items()},
    }  # fmt: skip
    return {**os.environ, **{f"CODEX_MEDIA_DISPATCH_{k}": v for k, v in values.items()}}


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def upload(bucket: str, key: str) -> UploadCompletedV1:
    return UploadCompletedV1(
        upload_id=str(uuid.uuid4()), owner_id="bench", bucket=bucket, key=key, filename="clip.mp4",
        content_type="video/mp4", size_bytes=1, etag='"e"', completed_at=datetime.now(UTC),
    )  # fmt: skip


async def send_when_bound(bus: Bus, event: UploadCompletedV1) -> None:
    producer = bus.producer(source="upload")
    for _ in range(300):
        try:
            await producer.send(event)
            return
        except UnroutableMessage:  # the worker has not declared its queue yet
            await asyncio.sleep(0.1)
    raise RuntimeError("media-dispatch's worker never bound its queue")


async def submission_latency(s3: S3Settings, bucket: str, logs: Path) -> None:
    schema, prefix = f"bench_md_{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}."
    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    arrivals: dict[str, float] = {}
    with instant_runpod(arrivals) as runpod_base:
        env = service_env(schema, prefix, s3, bucket, runpod_base, max_in_flight=1000)
        worker = start(["-m", "codex_media_dispatch.cli", "worker"], env, logs / "worker-1.log")
        sent: dict[str, float] = {}
        try:
            async with Bus(AMQP_URL, topology=Topology(prefix=prefix), name="bench-upload") as bus:
                await send_when_bound(bus, first := upload(bucket, "videos/original/warm-up.mp4"))
                producer = bus.producer(source="upload")
                began = time.perf_counter()
                for i in range(EVENTS):
                    await asyncio.sleep(max(0.0, began + i / RATE - time.perf_counter()))
                    event = upload(bucket, f"videos/original/{i}.mp4")
                    sent[event.upload_id] = time.time()
                    await producer.send(event)
            deadline = time.monotonic() + 60
            while len(arrivals) < EVENTS + 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            stop(worker)
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        rows = await conn.fetch(f"SELECT id, upload_id FROM {schema}.assets")  # noqa: S608
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()
    latencies = [
        arrivals[r["id"]] - sent[r["upload_id"]]
        for r in rows
        if r["upload_id"] in sent and r["id"] in arrivals
    ]
    assert first.upload_id not in sent
    print(
        f"upload.completed.v1 -> /run submitted: {len(latencies)}/{EVENTS} events at {RATE:.0f}/s, "
        f"p50 {pct(latencies, 0.5) * 1000:.1f} ms, p99 {pct(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )


def make_clip(path: Path, seconds: float = 10.0) -> bytes:
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
    video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
    sound = out.add_stream("aac", rate=48000)
    sound.layout = "stereo"
    with av.open(f"testsrc2=size=320x180:rate=15:duration={seconds}", format="lavfi") as pattern:
        for frame in pattern.decode(video=0):
            frame.pict_type = PictureType.NONE
            out.mux(video.encode(frame))
    out.mux(video.encode(None))
    with av.open(f"sine=frequency=440:duration={seconds}:sample_rate=48000", format="lavfi") as tone:
        for frame in tone.decode(audio=0):
            frame.pts = None
            out.mux(sound.encode(frame))
    out.mux(sound.encode(None))
    out.close()
    return path.read_bytes()


async def wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200")


async def pipeline_overhead(s3: S3Settings, bucket: str, logs: Path) -> None:
    if not GPU_PYTHON.exists():
        print(f"pipeline overhead: skipped ({GPU_PYTHON} missing: `cd gpu && uv sync`)")
        return
    from codex_platform.storage import Storage

    schema, prefix = f"bench_md_{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}."
    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    clip = make_clip(logs / "clip.mp4")
    runpod_port, serve_port = free_port(), free_port()
    workdir = logs / "gpu-work"
    workdir.mkdir()
    runpod_env = {
        **os.environ, "CODEX_RUNPOD_LOCAL_PORT": str(runpod_port), "CODEX_RUNPOD_LOCAL_API_KEY": KEY,
        "CODEX_RUNPOD_LOCAL_WORKERS": "1", "CODEX_RUNPOD_LOCAL_WORKER_COMMAND": f"{GPU_PYTHON} -m codex_gpu",
        "CODEX_RUNPOD_LOCAL_WORKER_ENV_JSON": json.dumps(
            {"CODEX_GPU_WORKDIR": str(workdir), "CODEX_GPU_URL_ALLOW": "127.0.0.1,localhost"}
        ),
        "CODEX_RUNPOD_LOCAL_WORKER_POLL_WAIT_S": "2", "CODEX_RUNPOD_LOCAL_LOG_LEVEL": "WARNING",
        "CODEX_RUNPOD_LOCAL_WORKER_PING_INTERVAL_MS": "1000",
    }  # fmt: skip
    runpod = start(["-m", "codex_runpod_local.cli", "serve"], runpod_env, logs / "runpod-local.log")
    env = service_env(
        schema, prefix, s3, bucket, f"http://127.0.0.1:{runpod_port}/v2",
        public_url=f"http://127.0.0.1:{serve_port}", poll_interval_s=30,
    )  # fmt: skip
    serve = start(
        ["-m", "codex_media_dispatch.cli", "serve", "--port", str(serve_port)], env, logs / "serve.log"
    )
    worker = start(["-m", "codex_media_dispatch.cli", "worker"], env, logs / "worker-2.log")
    overheads, totals, executions, delays = [], [], [], []
    heard: dict[str, float] = {}

    async def catalog(batch: MessageBatch[AssetReadyV1]) -> None:
        for message in batch:
            heard[message.body.upload_id] = time.time()

    try:
        await wait_http(f"http://127.0.0.1:{serve_port}/readyz")
        await wait_http(f"http://127.0.0.1:{runpod_port}/healthz")
        async with (
            Storage(bucket=bucket, endpoint_url=s3.endpoint_url, access_key_id=s3.access_key_id,
                    secret_access_key=s3.secret_access_key) as storage,
            Bus(AMQP_URL, topology=Topology(prefix=prefix), name="bench-catalog") as bus,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{runpod_port}/v2/codex-transcode",
                headers={"Authorization": f"Bearer {KEY}"},
            ) as runpod_client,
        ):  # fmt: skip
            consumer = bus.consumer(
                "bench-catalog", [subscribe(AssetReadyV1, catalog)], ConsumerSettings(max_batch_timeout=0)
            )
            await consumer.start()
            conn = await asyncpg.connect(DATABASE_URL)
            try:
                for i in range(CLIPS + 1):  # the first one warms the worker up, and is not counted
                    key = f"videos/original/clip-{i}.mp4"
                    await storage.put_bytes(key, clip, content_type="video/mp4")
                    event = upload(bucket, key)
                    sent = time.time()
                    await send_when_bound(bus, event)
                    deadline = time.monotonic() + 120
                    while event.upload_id not in heard and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    row = await conn.fetchrow(
                        f"SELECT state, gpu_seconds, runpod_job_id FROM {schema}.assets WHERE upload_id = $1",  # noqa: S608
                        event.upload_id,
                    )
                    if event.upload_id not in heard or row is None or row["state"] != "ready":
                        raise RuntimeError(f"clip {i} did not become ready: {row and dict(row)}; see {logs}")
                    if i:
                        status = await runpod_client.get(f"/status/{row['runpod_job_id']}")
                        delay = (
                            status.json().get("delayTime", 0) / 1000
                        )  # RunPod's queue, before a worker took it
                        total = heard[event.upload_id] - sent
                        totals.append(total)
                        executions.append(row["gpu_seconds"])
                        delays.append(delay)
                        overheads.append(total - row["gpu_seconds"] - delay)
            finally:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
                await conn.close()
                await consumer.stop()
    finally:
        stop(worker, serve, runpod)
    print(
        f"10 s clip, upload.completed -> media.asset.ready: {CLIPS} clips one after another; total p50 "
        f"{pct(totals, 0.5):.2f} s = worker execution p50 {pct(executions, 0.5):.2f} s + RunPod queue delay "
        f"(delayTime) p50 {pct(delays, 0.5):.2f} s + the pipeline's own overhead p50 "
        f"{pct(overheads, 0.5) * 1000:.0f} ms, p99 {pct(overheads, 0.99) * 1000:.0f} ms"
    )


async def amain() -> int:
    with s3_service() as s3, tempfile.TemporaryDirectory(prefix="bench-md-") as folder:
        from codex_platform.storage import Storage

        bucket = f"bench-md-{uuid.uuid4().hex[:8]}"
        async with Storage(
            bucket=bucket, endpoint_url=s3.endpoint_url, access_key_id=s3.access_key_id,
            secret_access_key=s3.secret_access_key,
        ) as storage:  # fmt: skip
            await storage.ensure_bucket()
        print(f"media-dispatch benchmark: {os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d}")
        await submission_latency(s3, bucket, Path(folder))
        await pipeline_overhead(s3, bucket, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(amain()))
