"""The whole journey, every process real: `deploy/dev.py` starts the five services' APIs and workers,
the RunPod stand-in with the GPU worker on CPU, the Stripe stand-in, moto and the gateway, on ports of
their own and in a database of their own; the journey of `make demo` then runs over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

from journey import story  # noqa: E402
from journey.steps import PASSWORD, Actor, Journey  # noqa: E402

PORTS = (8001, 8002, 8003, 8004, 8005, 8010, 8011, 8080, 9000)


def free_offset() -> int:
    """A port offset at which every port of the suite is free."""
    for offset in range(21000, 40000, 97):
        with socket.socket() as probe:
            if all(probe.connect_ex(("127.0.0.1", port + offset)) != 0 for port in PORTS):
                return offset
    raise RuntimeError("no free port range for the suite")


def ready(offset: int) -> bool:
    urls = [f"http://127.0.0.1:{port + offset}/readyz" for port in PORTS[:5]]
    urls.append(f"http://127.0.0.1:{8080 + offset}/.well-known/jwks.json")
    try:
        return all(httpx.get(url, timeout=2).status_code == 200 for url in urls)
    except httpx.HTTPError:
        return False


@pytest.fixture
async def suite_database(database_url: str) -> AsyncIterator[str]:
    name = f"codex_e2e_{os.urandom(4).hex()}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    parts = urlsplit(database_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
def suite(suite_database: str, queue_prefix: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], int]]:
    offset = free_offset()
    env = {
        **os.environ,
        "DATABASE_URL": suite_database,
        "BUS_PREFIX": queue_prefix,
        "CODEX_DEV_PORT_OFFSET": str(offset),
        "CODEX_AUTH_LOGIN_LIMIT": "100/10",
        "CODEX_AUTH_SIGNUP_LIMIT": "100/10",
        "CODEX_AUTH_MAIL_FOLDER": str(tmp_path / "mail"),
        "LOG_FORMAT": "json",
    }
    for name in ("S3_ENDPOINT_URL", "RUNPOD_API_BASE", "STRIPE_API_BASE"):
        env.pop(name, None)  # the suite starts its own moto and stand-ins
    log = tmp_path / "suite.log"
    process = subprocess.Popen(
        [sys.executable, "deploy/dev.py"],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not ready(offset):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the suite did not start:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield env, offset
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_the_journey_from_sign_up_to_refund(suite: tuple[dict[str, str], int], tmp_path: Path) -> None:
    env, offset = suite
    admin = Actor("Admin", "admin-e2e@example.com")
    made = subprocess.run(
        [sys.executable, "-m", "codex_auth.cli", "create-admin", "--email", admin.email],
        cwd=REPO,
        env={**env, "CODEX_AUTH_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    said: list[str] = []
    gateway = f"http://localhost:{8080 + offset}"
    journey = Journey(
        gateway, f"http://127.0.0.1:{8011 + offset}", "sk_test_codex_local", say=said.append, origin=gateway
    )
    try:
        timings = story.run(journey, admin, tmp_path, multipart_bytes=12 * 1024 * 1024)
    finally:
        journey.close()
        print("\n".join(said))
    assert any("720p.mp4: h264" in line for line in said)
    assert any("playback now answers 403" in line for line in said)
    assert timings["upload_to_playback_s"] > 0
