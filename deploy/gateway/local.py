"""The gateway of `make dev` (compose runs Caddy with deploy/gateway/Caddyfile): one origin, :8080, for
every service's routes and the web console, as a frontend sees it in production.

`python deploy/gateway/local.py [--port 8080]`; upstreams from CODEX_GATEWAY_<SERVICE>_URL (default: the
services' local ports). It forwards the client's address in X-Forwarded-For (the services trust it from
127.0.0.1 only) and keeps the Host header, so that the CSRF check sees the origin the browser used.
"""

from __future__ import annotations

import argparse
import mimetypes
import os
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import uvicorn

CONSOLE = Path(__file__).resolve().parents[1] / "console"
DEFAULTS = {
    "auth": "http://127.0.0.1:8001",
    "catalog": "http://127.0.0.1:8002",
    "upload": "http://127.0.0.1:8003",
    "media-dispatch": "http://127.0.0.1:8004",
    "purchase": "http://127.0.0.1:8005",
    "stripe-local": "http://127.0.0.1:8011",
}
# Path prefixes to services, as in the Caddyfile (a prefix matches itself and what follows a '/' or '?').
ROUTES = [
    ("/auth", "auth"),
    ("/.well-known", "auth"),
    ("/content", "catalog"),
    ("/uploads", "upload"),
    ("/assets", "media-dispatch"),
    ("/webhooks/runpod", "media-dispatch"),
    ("/purchases", "purchase"),
    ("/webhooks/stripe", "purchase"),
]
# Development only: the Stripe stand-in under /stripe, its prefix removed (as Caddy's handle_path).
STRIPPED = [("/stripe", "stripe-local")]
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
    b"content-length",
    b"accept-encoding",
}
MAX_BODY = 1024 * 1024  # as the Caddyfile's request_body max_size: media goes to the object store


def upstream_for(path: str, upstreams: dict[str, str]) -> tuple[str, str] | None:
    """The upstream's base URL and the path to ask it for, or None for the console's files."""
    for prefix, service in STRIPPED:
        if path.startswith(prefix + "/"):
            return upstreams[service], path[len(prefix) :]
    for prefix, service in ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            return upstreams[service], path
    return None


class Gateway:
    def __init__(self, upstreams: dict[str, str], console: Path = CONSOLE) -> None:
        self.upstreams = upstreams
        self.console = console
        # A jar that stores nothing: httpx would otherwise keep a Set-Cookie (a login's session cookie)
        # and send it on every later request that carries none, signing strangers in as that person.
        self.client = httpx.AsyncClient(timeout=60.0, follow_redirects=False)
        self.client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        route = upstream_for(scope["path"], self.upstreams)
        if route is None:
            await self.static(scope, send)
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if len(body) > MAX_BODY:
                await respond(send, 413, b'{"title":"Request body too large","status":413}')
                return
            if not event.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        client = scope.get("client") or ("127.0.0.1", 0)
        headers += [(b"x-forwarded-for", client[0].encode()), (b"x-forwarded-proto", b"http")]
        upstream, path = route
        if path == scope["path"]:
            path = scope["raw_path"].decode()  # as the client encoded it
        query = scope["query_string"].decode()
        url = upstream + path + (f"?{query}" if query else "")
        try:
            answer = await self.client.request(scope["method"], url, headers=headers, content=body)
        except httpx.HTTPError:
            await respond(send, 502, b'{"type":"about:blank","title":"Bad Gateway","status":502}')
            return
        out = [(k.lower().encode(), v.encode()) for k, v in answer.headers.multi_items()]
        out = [(k, v) for k, v in out if k not in HOP_BY_HOP and k != b"content-encoding"]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": answer.content})

    async def static(self, scope: dict[str, Any], send: Any) -> None:
        relative = scope["path"].lstrip("/") or "index.html"
        path = (self.console / relative).resolve()
        if not path.is_relative_to(self.console) or not path.is_file():
            path = self.console / "index.html"  # client-side routes fall back to the page
        if not path.is_file():
            await respond(send, 404, b'{"type":"about:blank","title":"Not Found","status":404}')
            return
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        await respond(send, 200, path.read_bytes(), kind)


async def respond(send: Any, status: int, body: bytes, kind: str = "application/problem+json") -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def upstreams_from_env() -> dict[str, str]:
    return {
        name: os.environ.get(f"CODEX_GATEWAY_{name.upper().replace('-', '_')}_URL", url)
        for name, url in DEFAULTS.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    uvicorn.run(Gateway(upstreams_from_env()), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
