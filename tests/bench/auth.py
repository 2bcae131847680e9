"""Benchmark of the auth service (`make bench`): figures measured in one run on this machine, not a test.

1. Login: throughput and latency p50/p99 with 16 concurrent clients against `python -m codex_auth.cli
   serve` with the production argon2id parameters (t=3, m=64 MiB, p=4). A login is one argon2
   verification, so the raw hash rate of this machine is measured beside it: the ceiling for logins.
2. `GET /auth/me` with a bearer token (JWT verification, one Postgres query for session and user,
   the platform's middleware) beside a bare Litestar endpoint answering the same JSON from memory,
   both served by one uvicorn process, driven by the same 16 clients; the ratio is the price of auth.

The rate limits are lifted for the run (16 clients share one address); everything else is as deployed:
the accounts confirm their addresses through the mailed links (login needs a confirmed address), and
the hashing queue keeps its default bound (16 waiting per hashing thread), which 16 clients never reach.
Environment: DATABASE_URL, REDIS_URL, AMQP_URL (defaults: the local services).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
from redis.asyncio import Redis

from codex_auth.cli import CLI
from codex_auth.passwords import Argon2Params, PasswordHasher
from codex_platform.db import connect, migrate, quote_ident

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS = 16
LOGIN_SECONDS = 15.0
ME_SECONDS = 10.0
PASSWORD = "correct horse battery staple"
ME_JSON = {
    "id": "0b9d6c1e-6a7e-4f53-a2b3-1c2d3e4f5a6b",
    "email": "bench0@example.com",
    "display_name": "Bench 0",
    "role": "customer",
    "email_verified": True,
    "created_at": "2026-01-01T00:00:00Z",
}


def bare_app() -> object:
    """The baseline: Litestar and nothing else, the same JSON as /auth/me, from memory."""
    from litestar import Litestar, get

    @get("/me")
    async def me() -> dict[str, object]:
        return ME_JSON

    return Litestar(route_handlers=[me], logging_config=None, openapi_config=None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


async def load(
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], base_url: str, seconds: float
) -> tuple[int, list[float], int]:
    """`CLIENTS` clients calling `request` back to back for `seconds`: (ok count, latencies in s, errors)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(index: int) -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await request(client, index)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    await asyncio.gather(*(client_loop(i) for i in range(CLIENTS)))
    return len(latencies), latencies, errors


async def mailed_tokens(folder: Path, count: int, timeout_s: float = 30) -> list[str]:
    """The tokens of the `count` verification links the service writes to `folder` (after answering)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tokens = []
        for path in folder.glob("*.eml"):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
            found = re.search(r"/verify-email#token=([A-Za-z0-9_\-]+)", body.get_content() if body else "")
            if found:
                tokens.append(found.group(1))
        if len(tokens) >= count:
            return tokens
        await asyncio.sleep(0.1)
    raise RuntimeError(f"expected {count} verification mails in {folder}")


def summary(name: str, ok: int, latencies: list[float], errors: int, seconds: float) -> float:
    cuts = statistics.quantiles(latencies, n=100)
    rate = ok / seconds
    print(
        f"  {name:<34} {rate:9.1f} req/s   p50 {cuts[49] * 1000:7.1f} ms   p99 {cuts[98] * 1000:7.1f} ms"
        f"   ({ok} ok, {errors} errors)"
    )
    return rate


async def hash_rate(params: Argon2Params, seconds: float = 8.0) -> float:
    """argon2id verifications per second on this machine, with as many threads as the server uses."""
    hasher = PasswordHasher(params)
    hashed = await hasher.hash(PASSWORD)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await hasher.verify(hashed, PASSWORD)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    hasher.close()
    return done / elapsed


async def main() -> int:
    schema = f"bench_auth_{uuid.uuid4().hex[:8]}"
    redis_prefix = f"bench:{schema}:"
    mail = Path(tempfile.mkdtemp(prefix="codex-auth-bench-"))
    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    auth_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "CODEX_AUTH_DB_SCHEMA": schema,
        "CODEX_AUTH_REDIS_PREFIX": redis_prefix,
        "CODEX_AUTH_MAIL_FOLDER": str(mail),
        "CODEX_AUTH_SIGNUP_LIMIT": "1000000/1",
        "CODEX_AUTH_LOGIN_LIMIT": "1000000/1",
    }
    auth = start([sys.executable, "-m", "codex_auth.cli", "serve", "--port", str(auth_port)], env)
    bare = start(
        [sys.executable, "-m", "uvicorn", "--factory", "auth:bare_app", "--port", str(bare_port),
         "--log-level", "warning", "--no-access-log", "--app-dir", str(Path(__file__).parent)],
        env,
    )  # fmt: skip
    auth_url, bare_url = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{bare_port}"
    try:
        await wait_ready(f"{auth_url}/healthz", auth)
        await wait_ready(f"{bare_url}/me", bare)
        today = f"{datetime.now(UTC):%Y-%m-%d}"
        print(f"auth benchmark: {CLIENTS} concurrent clients, {os.cpu_count()} CPUs, {today}")

        async with httpx.AsyncClient(base_url=auth_url, timeout=60) as client:
            for i in range(CLIENTS):
                body = {"email": f"bench{i}@example.com", "password": PASSWORD, "display_name": f"Bench {i}"}
                assert (await client.post("/auth/signup", json=body)).status_code == 202
            for token in await mailed_tokens(mail, CLIENTS):
                confirmed = await client.post("/auth/verify-email/confirm", json={"token": token})
                assert confirmed.status_code == 204, confirmed.text
            login = await client.post(
                "/auth/login", json={"email": "bench0@example.com", "password": PASSWORD}
            )
            token = login.json()["access_token"]

        params = Argon2Params()
        print(f"\n1. login (argon2id t={params.time_cost}, m={params.memory_cost_kib // 1024} MiB, "
              f"p={params.parallelism})")  # fmt: skip

        async def log_in(client: httpx.AsyncClient, index: int) -> httpx.Response:
            credentials = {"email": f"bench{index}@example.com", "password": PASSWORD}
            return await client.post("/auth/login", json=credentials)

        login_rate = summary("POST /auth/login", *await load(log_in, auth_url, LOGIN_SECONDS), LOGIN_SECONDS)
        hashes = await hash_rate(params)
        print(f"  {'argon2id verifications, in-process':<34} {hashes:9.1f} /s      (the ceiling for logins)")
        print(f"  logins reach {login_rate / hashes:.0%} of the raw hash rate")

        print(
            "\n2. GET /auth/me with a bearer token, beside a bare Litestar endpoint (same JSON, from memory)"
        )
        headers = {"Authorization": f"Bearer {token}"}

        async def me(client: httpx.AsyncClient, index: int) -> httpx.Response:
            return await client.get("/auth/me", headers=headers)

        async def bare_me(client: httpx.AsyncClient, index: int) -> httpx.Response:
            return await client.get("/me")

        await load(me, auth_url, 1.0)  # warm-up: connections, key ring, prepared statements
        await load(bare_me, bare_url, 1.0)
        me_rate = summary("GET /auth/me (bearer)", *await load(me, auth_url, ME_SECONDS), ME_SECONDS)
        bare_rate = summary("GET /me (bare Litestar)", *await load(bare_me, bare_url, ME_SECONDS), ME_SECONDS)
        print(f"  ratio: /auth/me runs at {me_rate / bare_rate:.2f}x the bare endpoint's throughput")
        print("  (one load generator on the same machine drives both: the figures are lower bounds)")
        return 0
    finally:
        for proc in (auth, bare):
            proc.terminate()
            proc.wait(timeout=20)
        conn = await connect(DATABASE_URL)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.close()
        redis = Redis.from_url(REDIS_URL)
        keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        shutil.rmtree(mail, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
