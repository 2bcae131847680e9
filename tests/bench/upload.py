"""Benchmark of the upload service (`make bench`): figures measured in one run on this machine, not a test.

16 concurrent clients against `python -m codex_upload.cli serve`:
1. `POST /uploads` (a single-PUT upload: declaration checks, the per-creator rate limit in Redis, a
   presigned PUT, one INSERT): throughput and latency p50/p99.
2. `POST /uploads/{id}/complete` of those uploads, each object already in the store: a row lock, a
   HEAD on S3, the state change and the outbox row in one transaction.
The bytes are PUT to the store between the two phases, unmeasured: they never pass through the service.

S3 is S3_ENDPOINT_URL when set, else a moto server in a process of its own (a local MinIO answers
HEAD faster than moto: completion's figure includes the store's latency). Rate limits are lifted (the
clients are 16 creators); everything else is as deployed. Environment: DATABASE_URL, REDIS_URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from codex_platform.db import connect, migrate, quote_ident
from codex_platform.storage import Storage
from codex_platform.testing import TokenIssuer, bearer
from codex_upload.cli import CLI

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS = int(os.environ.get("UPLOAD_BENCH_CLIENTS", "16"))
CREATE_SECONDS = 8.0
COMPLETE_SECONDS = 8.0
VIDEO = os.urandom(1024)


def without_length(headers: dict[str, str]) -> dict[str, str]:
    """The ticket's headers but Content-Length, which httpx sets from the body."""
    return {name: value for name, value in headers.items() if name != "Content-Length"}


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


def serve_jwks(issuer: TokenIssuer) -> ThreadingHTTPServer:
    """auth's JWKS, as the service fetches it (once: it caches the keys)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(issuer.jwks).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    return server


async def load(
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response | None]],
    base_url: str,
    seconds: float,
    expected: int,
) -> tuple[int, list[float], int, float]:
    """`CLIENTS` clients calling `request` back to back for `seconds` (or until it returns None):
    (ok count, latencies in s, errors, elapsed s)."""
    latencies: list[float] = []
    errors = 0
    started_all = time.perf_counter()
    deadline = started_all + seconds

    async def client_loop(index: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=60
        ) as c:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await request(c, index)
                if response is None:
                    return
                if response.status_code == expected:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    await asyncio.gather(*(client_loop(i) for i in range(CLIENTS)))
    return len(latencies), latencies, errors, time.perf_counter() - started_all


def summary(name: str, ok: int, latencies: list[float], errors: int, elapsed: float) -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"  {name:<34} {ok / elapsed:9.1f} req/s   p50 {cuts[49] * 1000:7.1f} ms"
        f"   p99 {cuts[98] * 1000:7.1f} ms   ({ok} ok, {errors} errors)"
    )


async def run(s3_url: str, access_key: str, secret_key: str) -> None:
    schema = f"bench_upload_{uuid.uuid4().hex[:8]}"
    bucket = f"bench-upload-{uuid.uuid4().hex[:8]}"
    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    issuer = TokenIssuer()
    jwks = serve_jwks(issuer)
    storage = Storage(
        bucket=bucket, endpoint_url=s3_url, access_key_id=access_key, secret_access_key=secret_key
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "LOG_LEVEL": "WARNING",
        "S3_ENDPOINT_URL": s3_url,
        "S3_ACCESS_KEY_ID": access_key,
        "S3_SECRET_ACCESS_KEY": secret_key,
        "JWKS_URL": issuer.jwks_url,
        "CODEX_UPLOAD_S3_BUCKET": bucket,
        "CODEX_UPLOAD_DB_SCHEMA": schema,
        "CODEX_UPLOAD_REDIS_PREFIX": f"bench:{schema}:",
        "CODEX_UPLOAD_CREATE_LIMIT": "1000000/1",
    }
    service = start([sys.executable, "-m", "codex_upload.cli", "serve", "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with storage:
            await storage.ensure_bucket()
            await wait_ready(f"{url}/healthz", service)
            today = f"{datetime.now(UTC):%Y-%m-%d}"
            print(f"upload benchmark: {CLIENTS} concurrent clients, {os.cpu_count()} CPUs, {today}")
            creators = [bearer(issuer.token(role="creator")) for _ in range(CLIENTS)]
            tickets: list[dict[str, Any]] = []
            body = {"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": len(VIDEO)}

            async def create(client: httpx.AsyncClient, index: int) -> httpx.Response:
                response = await client.post("/uploads", json=body, headers=creators[index])
                if response.status_code == 201:
                    tickets.append({**response.json(), "creator": index})
                return response

            print("\n1. POST /uploads (single PUT)")
            summary("POST /uploads", *await load(create, url, CREATE_SECONDS, 201))

            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as http:
                for first in range(0, len(tickets), 64):
                    await asyncio.gather(*(
                        http.put(t["url"], content=VIDEO, headers=without_length(t["headers"]))
                        for t in tickets[first : first + 64]
                    ))  # fmt: skip
            pending = list(tickets)

            async def complete(client: httpx.AsyncClient, index: int) -> httpx.Response | None:
                if not pending:
                    return None
                ticket = pending.pop()
                path = f"/uploads/{ticket['upload_id']}/complete"
                return await client.post(path, headers=creators[ticket["creator"]])

            what = "object present: lock, HEAD, state, outbox"
            print(f"\n2. POST /uploads/{{id}}/complete ({what}), {len(tickets)} uploads")
            summary("POST /uploads/{id}/complete", *await load(complete, url, COMPLETE_SECONDS, 200))
            await _empty(storage)
    finally:
        service.terminate()
        service.wait(timeout=30)
        jwks.shutdown()
        conn = await connect(DATABASE_URL)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        finally:
            await conn.close()


async def _empty(storage: Storage) -> None:
    paginator = storage.client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=storage.bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            await storage.client.delete_objects(
                Bucket=storage.bucket, Delete={"Objects": keys, "Quiet": True}
            )
    await storage.client.delete_bucket(Bucket=storage.bucket)


def main() -> int:
    if url := os.environ.get("S3_ENDPOINT_URL"):
        keys = os.environ.get("S3_ACCESS_KEY_ID", ""), os.environ.get("S3_SECRET_ACCESS_KEY", "")
        asyncio.run(run(url, *keys))
        return 0
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/moto-api/")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(run(f"http://127.0.0.1:{port}", "testing", "testing"))
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
