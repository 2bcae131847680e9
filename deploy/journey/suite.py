"""A whole suite started for one run (the end-to-end test, the journey benchmark): `deploy/dev.py` on
ports of its own (CODEX_DEV_PORT_OFFSET), in a Postgres database of its own, with its own queue prefix."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[2]
PORTS = (8001, 8002, 8003, 8004, 8005, 8010, 8011, 8080, 9000)


@dataclass(frozen=True)
class Suite:
    env: dict[str, str]
    offset: int

    @property
    def gateway(self) -> str:
        return f"http://localhost:{8080 + self.offset}"

    @property
    def stripe(self) -> str:
        return f"http://127.0.0.1:{8011 + self.offset}"

    def ready(self) -> bool:
        urls = [f"http://127.0.0.1:{port + self.offset}/readyz" for port in PORTS[:5]]
        urls.append(f"{self.gateway}/.well-known/jwks.json")
        try:
            return all(httpx.get(url, timeout=2).status_code == 200 for url in urls)
        except httpx.HTTPError:
            return False

    def create_admin(self, email: str, password: str) -> None:
        made = subprocess.run(
            [sys.executable, "-m", "codex_auth.cli", "create-admin", "--email", email],
            cwd=REPO,
            env={**self.env, "CODEX_AUTH_ADMIN_PASSWORD": password},
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise RuntimeError(f"create-admin failed: {made.stderr[-1000:]}")


def free_offset() -> int:
    """A port offset at which every port of the suite is free."""
    for offset in range(21000, 40000, 97):
        with socket.socket() as probe:
            if all(probe.connect_ex(("127.0.0.1", port + offset)) != 0 for port in PORTS):
                return offset
    raise RuntimeError("no free port range for the suite")


async def _database(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def own_database(database_url: str) -> Iterator[str]:
    """A fresh database on the server of `database_url`, dropped afterwards."""
    name = f"codex_run_{os.urandom(4).hex()}"
    asyncio.run(_database(database_url, f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_database(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def running_suite(
    database_url: str, bus_prefix: str, workdir: Path, *, start_timeout_s: float = 180
) -> Iterator[Suite]:
    """Start the suite, wait until every service is ready, stop it all on exit (log: workdir/suite.log)."""
    with own_database(database_url) as database:
        offset = free_offset()
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "BUS_PREFIX": bus_prefix,
            "CODEX_DEV_PORT_OFFSET": str(offset),
            "CODEX_AUTH_LOGIN_LIMIT": "100/10",
            "CODEX_AUTH_SIGNUP_LIMIT": "100/10",
            "CODEX_AUTH_MAIL_FOLDER": str(workdir / "mail"),
            "LOG_FORMAT": "json",
        }
        for name in ("S3_ENDPOINT_URL", "RUNPOD_API_BASE", "STRIPE_API_BASE"):
            env.pop(name, None)  # the suite starts its own moto and stand-ins
        log = workdir / "suite.log"
        process = subprocess.Popen(
            [sys.executable, "deploy/dev.py"],
            cwd=REPO,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        suite = Suite(env, offset)
        try:
            deadline = time.monotonic() + start_timeout_s
            while not suite.ready():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the suite did not start:\n{log.read_text()[-4000:]}")
                time.sleep(1)
            yield suite
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
