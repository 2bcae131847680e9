"""Benchmark of the catalog service (`make bench`): figures measured in one run on this machine, not a test.

10,000 published contents (50 creators, titles and descriptions drawn from a small vocabulary), served
by `python -m codex_catalog.cli serve`, driven by 32 concurrent connections:

1. `GET /content?limit=20` (the first page: a keyset index scan and the creators' names),
2. `GET /content?limit=20&q=sailing` (full-text search: ~300 matches ranked, then the first 20),
3. `GET /content/{id}/playback` as a buyer (token verified, role, content, access and asset read,
   three presigned URLs signed),

each beside a bare Litestar endpoint (no kit: no middleware, no auth, no problem details) running the
same asyncpg queries on a pool of the same size and returning their rows as JSON; the ratio is the
price of the service around its queries (for playback also the signing of the URLs, which the bare
endpoint skips). Environment: DATABASE_URL (default: the local Postgres). S3 is never called:
presigning is local.
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
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONNECTIONS = 32
SECONDS = 6.0
ROWS = 10_000
POOL_SIZE = 10  # the service's pool size (create_pool's default)
SEARCH = "sailing"
VOCABULARY = [
    "sailing",
    "knots",
    "bread",
    "ocean",
    "storm",
    "garden",
    "guitar",
    "travel",
    "cooking",
    "painting",
    "chess",
    "running",
    "yoga",
    "history",
    "physics",
    "poetry",
    "coffee",
    "mountains",
    "photography",
    "jazz",
    "pottery",
    "cycling",
    "birds",
    "rivers",
    "astronomy",
    "baking",
    "carpentry",
    "dance",
    "film",
    "forest",
    "islands",
    "languages",
    "maps",
    "music",
]


def bare_app() -> Any:
    """The baseline: Litestar and an asyncpg pool running the catalog's own queries, nothing else."""
    from litestar import Litestar, get

    from codex_catalog import repository
    from codex_catalog.listing import listing_query
    from codex_platform.db import create_pool

    schema = os.environ["BENCH_SCHEMA"]
    state: dict[str, Any] = {}

    async def open_pool(app: Litestar) -> None:
        state["pool"] = await create_pool(DATABASE_URL, schema=schema, max_size=POOL_SIZE)

    @get("/content")
    async def listing(q: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = listing_query(limit=limit, creator=None, pricing=None, q=q, cursor=None)
        async with state["pool"].acquire() as conn:
            rows = await repository.list_published(conn, query)
        return [dict(row) for row in rows[:limit]]

    @get("/content/{content_id:str}/playback")
    async def playback(content_id: str, user: str) -> dict[str, Any]:
        async with state["pool"].acquire() as conn:
            role = await repository.recorded_role(conn, user)
            content = await repository.get_content(conn, content_id)
            assert content is not None
            access = await repository.has_access(conn, user, content.id)
            asset = await repository.get_asset(conn, content.upload_id)
        return {"role": role[0], "content": content.id, "access": access, "asset": asset}

    return Litestar(route_handlers=[listing, playback], on_startup=[open_pool], logging_config=None,
                    openapi_config=None)  # fmt: skip


async def seed(schema: str, buyer: str) -> str:
    """ROWS published contents, one ready asset they share, creators' names, the buyer's access."""
    from codex_catalog.cli import CLI
    from codex_platform.db import connect, migrate

    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    conn = await connect(DATABASE_URL, schema=schema)
    try:
        await conn.execute(
            """INSERT INTO content (id, creator_id, title, description, price_cents, currency, upload_id,
                   status, publish_requested, created_at, updated_at, published_at)
               SELECT gen_random_uuid(), 'creator-' || (i % 50),
                      initcap(v[1 + i % n]) || ' and ' || v[1 + (i * 7) % n],
                      'A course on ' || v[1 + (i * 3) % n] || ', ' || v[1 + (i * 11) % n] || ' and '
                          || v[1 + (i * 13) % n] || ' for everyone.',
                      CASE WHEN i % 4 = 0 THEN 0 ELSE 100 * (i % 20 + 1) END, 'USD', 'up-bench',
                      'published', true, now(), now(), now() - i * interval '1 second'
               FROM generate_series(1, $1) AS i,
                    (SELECT $2::text[] AS v, cardinality($2::text[]) AS n) AS words""",
            ROWS, VOCABULARY,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO creators (user_id, display_name, role, named_at, role_at)
               SELECT 'creator-' || i, 'Creator ' || i, 'creator', now(), now()
               FROM generate_series(0, 49) i"""
        )
        renditions = [
            {"name": n, "key": f"videos/{n}/a-bench.mp4", "width": w, "height": h, "bitrate": b,
             "codec": "h264"}
            for n, w, h, b in (("1080p", 1920, 1080, 5_000_000), ("720p", 1280, 720, 2_500_000))
        ]  # fmt: skip
        await conn.execute(
            """INSERT INTO assets (upload_id, asset_id, owner_id, state, renditions, thumbnail_key,
                   duration_s, occurred_at)
               SELECT 'up-bench', 'a-bench', creator_id, 'ready', $1, 'thumbnails/a-bench.jpg', 60, now()
               FROM content LIMIT 1""",
            renditions,
        )
        # Every content's asset belongs to one creator: play content of that creator.
        content_id: str = str(
            await conn.fetchval(
                "SELECT c.id FROM content c JOIN assets a ON a.owner_id = c.creator_id"
                " WHERE c.price_cents > 0 LIMIT 1"
            )
        )
        await conn.execute("INSERT INTO access VALUES ($1, $2, true, 'p-bench', now())", buyer, content_id)
        await conn.execute("ANALYZE")
        return content_id
    finally:
        await conn.close()


def serve_jwks(jwks: dict[str, Any]) -> ThreadingHTTPServer:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


async def load(
    path: str, base_url: str, headers: dict[str, str], seconds: float
) -> tuple[int, list[float], int]:
    """CONNECTIONS clients calling `path` back to back for `seconds`: (ok count, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client_loop() -> None:
        nonlocal errors
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, headers=headers) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(path)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    await asyncio.gather(*(client_loop() for _ in range(CONNECTIONS)))
    return len(latencies), latencies, errors


def summary(name: str, ok: int, latencies: list[float], errors: int) -> float:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    rate = ok / SECONDS
    print(f"  {name:<44} {rate:8.1f} req/s   p50 {cuts[49] * 1000:7.1f} ms   p99 {cuts[98] * 1000:7.1f} ms"
          f"   ({ok} ok, {errors} errors)")  # fmt: skip
    return rate


async def compare(label: str, service: tuple[str, str, dict[str, str]], bare: tuple[str, str]) -> None:
    service_url, service_path, headers = service
    bare_url, bare_path = bare
    print(f"\n{label}")
    await load(service_path, service_url, headers, 1.0)  # warm-up: connections, prepared statements, JWKS
    await load(bare_path, bare_url, {}, 1.0)
    ours = summary(
        f"catalog  GET {service_path[:33]}", *await load(service_path, service_url, headers, SECONDS)
    )
    theirs = summary(f"bare     GET {bare_path[:33]}", *await load(bare_path, bare_url, {}, SECONDS))
    print(f"  ratio: the catalog runs at {ours / theirs:.2f}x the bare endpoint's throughput")


async def main() -> int:
    from codex_platform.db import connect, quote_ident
    from codex_platform.testing.tokens import TokenIssuer, bearer

    schema = f"bench_catalog_{uuid.uuid4().hex[:8]}"
    buyer = str(uuid.uuid4())
    issuer = TokenIssuer()
    jwks = serve_jwks(issuer.jwks)
    issuer.jwks_url = f"http://127.0.0.1:{jwks.server_address[1]}/.well-known/jwks.json"
    catalog_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "LOG_LEVEL": "WARNING",
        "CODEX_CATALOG_DB_SCHEMA": schema,
        "CODEX_CATALOG_JWKS_URL": issuer.jwks_url,
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",  # never called: URLs are signed locally
        "S3_ACCESS_KEY_ID": "bench",
        "S3_SECRET_ACCESS_KEY": "bench-secret",
        "BENCH_SCHEMA": schema,
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        content_id = await seed(schema, buyer)
        argv = [sys.executable, "-m", "codex_catalog.cli", "serve", "--port", str(catalog_port)]
        procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "catalog:bare_app", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log", "--app-dir", str(Path(__file__).parent)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        ))  # fmt: skip
        catalog_url, bare_url = f"http://127.0.0.1:{catalog_port}", f"http://127.0.0.1:{bare_port}"
        await wait_ready(f"{catalog_url}/healthz", procs[0])
        await wait_ready(f"{bare_url}/content", procs[1])
        today = f"{datetime.now(UTC):%Y-%m-%d}"
        print(
            f"catalog benchmark: {ROWS} published rows, {CONNECTIONS} connections, "
            f"{os.cpu_count()} CPUs, {today}"
        )

        token = bearer(issuer.token(user_id=buyer, role="customer", ttl_s=3600))
        await compare(
            "1. a page of 20, newest first",
            (catalog_url, "/content?limit=20", {}),
            (bare_url, "/content?limit=20"),
        )
        await compare(
            f"2. a page of 20 searching {SEARCH!r}, ranked",
            (catalog_url, f"/content?limit=20&q={SEARCH}", {}),
            (bare_url, f"/content?limit=20&q={SEARCH}"),
        )
        await compare(
            "3. playback as a buyer (bare: the same queries, no URL signing, no token)",
            (catalog_url, f"/content/{content_id}/playback", token),
            (bare_url, f"/content/{content_id}/playback?user={buyer}"),
        )
        print("  (one load generator on the same machine drives both: the figures are lower bounds)")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        jwks.shutdown()
        conn = await connect(DATABASE_URL)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
