"""The three commands `make dev` runs (migrate, serve, worker) and the admin commands, as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import jwt

ADMIN_PASSWORD = "the first admin's passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(
    database_url: str,
    redis_url: str,
    amqp_url: str,
    schema: str,
    redis_prefix: str,
    queue_prefix: str,
    tmp: Path,
) -> dict[str, str]:
    return {
        **os.environ,
        "ENVIRONMENT": "development",
        "LOG_FORMAT": "json",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AMQP_URL": amqp_url,
        "CODEX_AUTH_DB_SCHEMA": schema,
        "CODEX_AUTH_REDIS_PREFIX": redis_prefix,
        "CODEX_AUTH_BUS_PREFIX": queue_prefix,
        "CODEX_AUTH_MAIL_FOLDER": str(tmp / "mail"),
        "CODEX_AUTH_ARGON2_TIME_COST": "1",
        "CODEX_AUTH_ARGON2_MEMORY_KIB": "1024",
        "CODEX_AUTH_ARGON2_PARALLELISM": "1",
    }


async def cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codex_auth.cli", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout=60)
    return proc.returncode or 0, out.decode()


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
    return proc.returncode or 0, out.decode()


async def test_migrate_serve_worker_and_the_admin_commands(
    database_url: str,
    redis_url: str,
    amqp_url: str,
    pg_schema: str,
    redis_prefix: str,
    queue_prefix: str,
    tmp_path: Path,
) -> None:
    env = service_env(database_url, redis_url, amqp_url, pg_schema, redis_prefix, queue_prefix, tmp_path)

    code, out = await cli(env, "migrate")
    assert code == 0 and "applied" in out and "0001_accounts" in out and "bus 0001_outbox_inbox" in out
    code, out = await cli(env, "migrate")
    assert code == 0 and "up to date" in out

    code, out = await cli(
        {**env, "CODEX_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD}, "create-admin", "--email", "Root@Example.com"
    )
    assert code == 0 and "created admin root@example.com" in out
    code, out = await cli(env, "create-admin", "--email", "x@example.com", stdin=b"short\n")
    assert code == 1 and "password" in out
    code, out = await cli(env, "rotate-keys")
    assert code == 0 and "new signing key" in out

    port = free_port()
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codex_auth.cli", "serve", "--port", str(port), env={**env, "PORT": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codex_auth.cli", "worker", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = asyncio.get_running_loop().time() + 60  # two busy CPUs: imports take a while
            while asyncio.get_running_loop().time() < deadline:
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            login = await client.post(
                "/auth/login", json={"email": "root@example.com", "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200
            token = login.json()["access_token"]
            assert jwt.decode(token, options={"verify_signature": False})["role"] == "admin"
            assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == 2  # current + rotated
    finally:
        serve_code, serve_log = await stop(serve)
        worker_code, worker_log = await stop(worker)

    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught, as a process should.
    assert serve_code in (0, -signal.SIGTERM) and worker_code == 0
    assert "worker_started" in worker_log
    lines = [json.loads(line) for line in serve_log.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "http_request" and line.get("path") == "/auth/login" for line in lines)
    # No secret in any log line: not the password, not the access token, not the session cookie.
    assert ADMIN_PASSWORD not in serve_log and token not in serve_log
    assert login.cookies["codex_session"] not in serve_log
