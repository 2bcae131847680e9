"""Liveness (``GET /healthz``) and readiness (``GET /readyz``) endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec
import structlog
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler

from codex_platform.http.problems import problem_response
from codex_platform.logging import redact_text

ReadinessCheck = Callable[[], Awaitable[None]]
"""A readiness check returns when its dependency is usable and raises (or hangs) when it is not."""

_log = structlog.get_logger("codex.http.health")


class Liveness(msgspec.Struct):
    """Answer of ``GET /healthz``."""

    status: str


class Readiness(msgspec.Struct):
    """Answer of ``GET /readyz`` when every check passed."""

    status: str
    checks: dict[str, str]


@get("/healthz", operation_id="getLiveness", summary="Liveness probe", tags=["operations"])
async def liveness() -> Liveness:
    """The process answers HTTP: nothing more is checked, so a slow dependency never restarts it."""
    return Liveness(status="ok")


async def _run_check(name: str, check: ReadinessCheck, timeout_s: float) -> str:
    try:
        await asyncio.wait_for(check(), timeout=timeout_s)
    except TimeoutError:
        _log.warning("readiness_check_timed_out", check=name, timeout_s=timeout_s)
        return "timeout"
    except Exception as exc:
        _log.warning(
            "readiness_check_failed",
            check=name,
            error_type=type(exc).__qualname__,
            # Driver errors sometimes quote the DSN they failed to reach.
            error=redact_text(str(exc))[:500],
        )
        return "failed"
    return "ok"


def readiness_route(checks: Mapping[str, ReadinessCheck], timeout_s: float) -> HTTPRouteHandler:
    """``GET /readyz``: run every check concurrently, each bounded by ``timeout_s``."""
    frozen = dict(checks)

    @get(
        "/readyz",
        operation_id="getReadiness",
        summary="Readiness probe",
        description="200 when every dependency check passes; 503 problem details naming the failures.",
        tags=["operations"],
    )
    async def readiness(request: Request[Any, Any, Any]) -> Response[Any]:
        names = list(frozen)
        results = await asyncio.gather(*(_run_check(n, frozen[n], timeout_s) for n in names))
        statuses = dict(zip(names, results, strict=True))
        failing = [name for name, status in statuses.items() if status != "ok"]
        if failing:
            # Only names and outcomes leave the process; error texts stay in the log.
            return problem_response(
                request,
                503,
                title="Service not ready",
                detail=f"Readiness checks failing: {', '.join(failing)}",
                extra={"checks": statuses},
            )
        return Response(Readiness(status="ok", checks=statuses))

    return readiness
