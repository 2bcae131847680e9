"""Harness of media-dispatch's end-to-end tests (no tests here): the local RunPod endpoint with the real
transcode worker (gpu/, on the CPU), media-dispatch's HTTP side and worker, the bus and the S3 server.

The endpoint is started with tests/e2e/conftest.py's `start_runpod_local` (loaded by path: test modules
cannot import a conftest by name). Clips are tiny (160x90, 1 s) so a transcode takes about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import av
import httpx
import msgspec
from av.video.frame import PictureType

from codex_bus import BUS_MIGRATIONS, Bus, Topology, UnroutableMessage, service_worker
from codex_contracts.events import UploadCompletedV1
from codex_media_dispatch.app import create_app
from codex_media_dispatch.bootstrap import bootstrap
from codex_media_dispatch.cli import CONSUMER, background
from codex_media_dispatch.handlers import SUBSCRIPTIONS
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.db import MigrationSource, migrate
from codex_platform.storage import Storage
from codex_platform.testing import S3Settings, serve

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "codex-transcode"
RUNPOD_KEY = "e2e-media-dispatch-key"
MIGRATIONS = [BUS_MIGRATIONS, MigrationSource("media-dispatch", "codex_media_dispatch.migrations")]
TERMINAL = ("ready", "failed", "canceled")

_spec = importlib.util.spec_from_file_location(
    "_e2e_conftest_for_media_dispatch", REPO / "tests/e2e/conftest.py"
)
assert _spec is not None and _spec.loader is not None
e2e = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = e2e  # dataclasses look their module up there
_spec.loader.exec_module(e2e)
RunpodLocal = e2e.RunpodLocal


def make_clip(path: Path, *, seconds: float = 1.0, width: int = 160, height: int = 90) -> bytes:
    """A tiny H.264/AAC MP4 made with PyAV's lavfi sources."""
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    sound = out.add_stream("aac", rate=48000)
    sound.layout = "stereo"
    with av.open(f"testsrc2=size={width}x{height}:rate=15:duration={seconds}", format="lavfi") as pattern:
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


# A stand-in for the transcode worker where the test is about the service, not the transcode (many jobs):
# run by the real SDK loop, it PUTs small files to the job's presigned URLs and answers a result of the
# contract's shape. The real worker's own behaviour is tested in gpu/ and test_media_dispatch_e2e.py.
STUB_WORKER = """
import asyncio, urllib.request
import runpod

def put(url, data, content_type):
    request = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": content_type})
    urllib.request.urlopen(request, timeout=30).read()

async def handler(job):
    job_input = job["input"]
    await asyncio.sleep(0.3)
    put(job_input["outputs"]["720p"], b"\\0" * 64, "video/mp4")
    put(job_input["thumbnail_url"], b"\\xff\\xd8", "image/jpeg")
    rendition = {"name": "720p", "width": 160, "height": 90, "codec": "h264", "profile": "High",
                 "pix_fmt": "yuv420p", "fps": 15.0, "bitrate": 1000, "size_bytes": 64, "duration_s": 0.5,
                 "has_audio": False}
    return {"job_id": job_input["job_id"], "status": "succeeded", "renditions": [rendition],
            "thumbnail": {"width": 160, "height": 90, "size_bytes": 2, "at_s": 0.25}, "encoder": "stub"}

runpod.serverless.start({"handler": handler})
"""


def start_transcode_endpoint(
    log_dir: Path, gpu_python: Path, *, workers: int = 2, stub: bool = False, **settings: Any
) -> Any:
    """runpod-local with `workers` real transcode workers (`python -m codex_gpu`) on the CPU, or with
    `stub` the stand-in above."""
    workdir = log_dir / "gpu-work"
    workdir.mkdir(exist_ok=True)
    command = f"{gpu_python} -m codex_gpu"
    if stub:
        (log_dir / "stub_worker.py").write_text(STUB_WORKER)
        command = f"{gpu_python} {log_dir / 'stub_worker.py'}"
    server = e2e.start_runpod_local(
        log_dir,
        endpoints=ENDPOINT,
        api_key=RUNPOD_KEY,
        workers=workers,
        worker_command=command,
        # the test's S3 server (moto) listens on 127.0.0.1 over http: allowed as in development
        worker_env_json=json.dumps(
            {"CODEX_GPU_WORKDIR": str(workdir), "CODEX_GPU_URL_ALLOW": "127.0.0.1,localhost"}
        ),
        worker_poll_wait_s=2,
        worker_ping_interval_ms=1000,
        sweep_interval_s=0.05,
        webhook_attempts=3,
        webhook_interval_s=0.5,
        min_execution_timeout_ms=100,
        min_ttl_ms=100,
        **settings,
    )
    e2e.wait_for_workers(server, ENDPOINT, workers, timeout=120)
    return server


def service_settings(
    *,
    database_url: str,
    schema: str,
    amqp_url: str,
    bus_prefix: str,
    s3: S3Settings,
    bucket: str,
    endpoint: Any,
    **overrides: Any,
) -> MediaDispatchSettings:
    values: dict[str, Any] = {
        "database_url": database_url, "db_schema": schema, "amqp_url": amqp_url, "bus_prefix": bus_prefix,
        "s3_endpoint_url": s3.endpoint_url, "s3_access_key_id": s3.access_key_id,
        "s3_secret_access_key": s3.secret_access_key, "s3_bucket": bucket,
        "runpod_api_base": f"{endpoint.base_url}/v2", "runpod_endpoint_id": ENDPOINT,
        "runpod_api_key": RUNPOD_KEY,
        "max_in_flight": 4, "poll_interval_s": 1.0, "reconcile_interval_s": 0.2, "dispatch_interval_s": 0.2,
        "retry_base_s": 0.3, "retry_max_s": 2.0, "submit_grace_s": 10.0, "job_ttl_s": 300,
        "execution_timeout_s": 120,
    }  # fmt: skip
    values.update(overrides)
    return MediaDispatchSettings(**values)


def settings_env(settings: MediaDispatchSettings) -> dict[str, str]:
    """The environment under which `python -m codex_media_dispatch.cli` loads `settings`."""
    env = dict(os.environ)
    prefix = MediaDispatchSettings.env_prefix()
    for name, value in msgspec.structs.asdict(settings).items():
        if value is not None:
            env[prefix + name.upper()] = (
                value if isinstance(value, str) else msgspec.json.encode(value).decode()
            )
    env.pop(prefix + "PORT", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upload_completed(
    bucket: str, key: str, *, size: int = 1000, owner_id: str | None = None
) -> UploadCompletedV1:
    return UploadCompletedV1(
        upload_id=str(uuid.uuid4()), owner_id=owner_id or str(uuid.uuid4()), bucket=bucket, key=key,
        filename="clip.mp4", content_type="video/mp4", size_bytes=size, etag='"e"',
        completed_at=datetime.now(UTC),
    )  # fmt: skip


async def stored_upload(storage: Storage, data: bytes) -> UploadCompletedV1:
    """A source in the bucket, as the upload service leaves it, and its event."""
    key = f"videos/original/{uuid.uuid4()}.mp4"
    await storage.put_bytes(key, data, content_type="video/mp4")
    return upload_completed(storage.bucket, key, size=len(data))


async def publish(bus: Bus, *events: UploadCompletedV1, timeout: float = 30.0) -> None:
    """Send as the upload service does; waits until media-dispatch's queue is bound (mandatory routing)."""
    producer = bus.producer(source="upload")
    deadline = time.monotonic() + timeout
    while True:
        try:
            await producer.send_batch(list(events))
            return
        except UnroutableMessage:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


async def states(pool: asyncpg.Pool[Any]) -> dict[str, str]:
    return {row["upload_id"]: row["state"] for row in await pool.fetch("SELECT upload_id, state FROM assets")}


async def asset(pool: asyncpg.Pool[Any], upload_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM assets WHERE upload_id = $1", upload_id)
    assert row is not None
    return row


async def wait_terminal(pool: asyncpg.Pool[Any], upload_id: str, timeout: float = 90.0) -> asyncpg.Record:
    async def done() -> bool:
        row = await pool.fetchrow("SELECT state FROM assets WHERE upload_id = $1", upload_id)
        return row is not None and row["state"] in TERMINAL

    await eventually(done, timeout=timeout, what=f"asset of upload {upload_id} terminal")
    return await asset(pool, upload_id)


async def outbox_events(pool: asyncpg.Pool[Any], event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT body FROM outbox WHERE event_type = $1 ORDER BY seq", event_type)
    return [dict(msgspec.json.decode(row["body"])["data"]) for row in rows]


@dataclass
class Dispatch:
    """media-dispatch running in this process: its HTTP side (uvicorn) and its worker (a task)."""

    settings: MediaDispatchSettings
    base_url: str
    bus: Bus


@contextlib.asynccontextmanager
async def running_dispatch(settings: MediaDispatchSettings) -> AsyncIterator[Dispatch]:
    await migrate(settings.database_url, schema=settings.db_schema, sources=MIGRATIONS)
    async with serve(create_app(settings)) as base_url:
        worker_settings = msgspec.structs.replace(settings, public_url=base_url)
        worker = asyncio.create_task(
            service_worker(
                worker_settings,
                bootstrap,
                subscriptions=SUBSCRIPTIONS,
                tasks=background,
                consumer_settings=CONSUMER,
            )
        )
        bus = Bus(settings.amqp_url, topology=Topology(prefix=settings.bus_prefix), name="e2e-upload")
        await bus.connect()
        try:
            yield Dispatch(worker_settings, base_url, bus)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await bus.close()


def webhook_attempts(endpoint: Any, runpod_id: str) -> list[dict[str, Any]]:
    return list(endpoint.webhook_attempts(runpod_id))


async def runpod_status(endpoint: Any, runpod_id: str) -> httpx.Response:
    return await asyncio.to_thread(endpoint.status, ENDPOINT, runpod_id)


def python() -> str:
    return sys.executable
