"""The outermost ASGI layer: request id, structlog context, access log and metrics for every request.

Litestar runs route middleware only for requests that matched a route, so a 404 or 405 would escape
it. This layer wraps the whole application instead (see ``create_app``), so every response, error or
not, carries ``X-Request-ID`` and is logged and counted once.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from codex_platform.http.metrics import UNMATCHED_ROUTE, HttpMetrics
from codex_platform.http.problems import PROBLEM_MEDIA_TYPE
from codex_platform.http.request_id import (
    REQUEST_ID_HEADER,
    establish_request_id,
    request_id_of,
    request_path_of,
)

# Route handlers whose path itself carries a secret (e.g. a webhook authenticated by a token in its
# URL) set opt={SENSITIVE_PATH_OPT: True}: their access log shows the route template, not the path.
SENSITIVE_PATH_OPT = "sensitive_path"
# Probes and scrapes arrive every few seconds; at info level they would drown the real traffic.
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")

_access_log = structlog.get_logger("codex.http.access")
_error_log = structlog.get_logger("codex.http.errors")


class RequestObservationMiddleware:
    """Wrap an ASGI app: request id in, request id out, one access log line, request metrics."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = establish_request_id(scope)
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        header_value = request_id.encode("latin-1")
        status = 500
        response_started = False
        logged = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started, logged
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != _HEADER]
                headers.append((_HEADER, header_value))
                message["headers"] = headers
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                logged = True
                self._record(scope, status, started)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            _error_log.error(
                "unhandled_exception", request_id=request_id, error_type=type(exc).__qualname__, exc_info=exc
            )
            if response_started:
                # Too late for an error response: let the server abort the connection.
                if not logged:
                    self._record(scope, 500, started)
                raise
            # Litestar's exception handlers answer almost everything; this is the last resort.
            await _send_bare_500(send_with_request_id, request_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
            # codex_platform.http.auth binds the caller's user_id once the token is verified.
            structlog.contextvars.unbind_contextvars("user_id")

    def _record(self, scope: Scope, status: int, started: float) -> None:
        duration_s = time.perf_counter() - started
        method = str(scope.get("method", ""))
        route = str(scope.get("path_template") or UNMATCHED_ROUTE)
        self.metrics.observe(method=method, route=route, status=status, duration_s=duration_s)
        route_handler: Any = scope.get("route_handler")
        sensitive = bool(route_handler is not None and route_handler.opt.get(SENSITIVE_PATH_OPT))
        path = route if sensitive else request_path_of(scope)
        log = _access_log.debug if path in _QUIET_PATHS and status < 400 else _access_log.info
        # No query string and no headers: both routinely carry tokens.
        log(
            "http_request",
            request_id=request_id_of(scope),
            method=method,
            path=path[:256],
            route=route,
            status=status,
            duration_ms=round(duration_s * 1000, 2),
        )


async def _send_bare_500(send: Send, request_id: str) -> None:
    body = msgspec.json.encode(
        {"type": "about:blank", "title": "Internal Server Error", "status": 500, "request_id": request_id}
    )
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
