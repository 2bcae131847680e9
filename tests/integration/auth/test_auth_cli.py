"""The three commands `make dev` runs (migrate, serve, worker) and the admin commands, as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Callable

import httpx
import jwt
import msgspec

from codex_auth.settings import PREFIX, AuthSettings

ADMIN_PASSWORD = "the first admin's passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(settings: AuthSettings) -> dict[str, str]:
    """The environment under which `python -m codex_auth.cli` loads `settings`; but the port,
    which each command of the test gives itself."""
    env = dict(os.environ)
    for name, value in msgspec.structs.asdict(settings).items():
        if value is not None and name != "port":
            env[PREFIX + name.upper()] = (
                value if isinstance(value, str) else msgspec.json.encode(value).decode()
            )
    return env


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
    auth_settings_factory: Callable[..., AuthSettings],
) -> None:
    env = service_env(auth_settings_factory(log_format="json"))

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
    # Outside production, both processes say once that they run a development configuration.
    [announced] = [line for line in lines if line.get("event") == "development_configuration"]
    assert announced["environment"] == "development" and "auth_secret" in announced["defaults"]
    assert worker_log.count("development_configuration") == 1
    # No secret in any log line: not the password, not the access token, not the session cookie.
    assert ADMIN_PASSWORD not in serve_log and token not in serve_log
    assert login.cookies["codex_session"] not in serve_log
