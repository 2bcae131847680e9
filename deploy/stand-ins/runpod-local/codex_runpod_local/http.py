"""What every route here shares: the API key, the cloud's `{"error"}` answers and the injected
dependencies. The routes: the cloud API (http_cloud.py), the routes the SDK's worker loop polls
(http_worker_loop.py) and the local-only admin routes (http_admin.py). They only translate HTTP to calls
on `Endpoints`."""

from __future__ import annotations

import hmac
import math
from typing import Any, TypeAlias

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from codex_runpod_local.domain import JobNotFound, JobNotRetryable
from codex_runpod_local.runtime import EndpointNotFound, Endpoints, InjectedFailure, InvalidRequest
from codex_runpod_local.settings import Settings
from codex_runpod_local.workers import WorkerPool

EndpointsDep: TypeAlias = NamedDependency[Endpoints]
PoolDep: TypeAlias = NamedDependency[WorkerPool]
SettingsDep: TypeAlias = NamedDependency[Settings]
PathParam: TypeAlias = FromPath[str]


class ErrorBody(msgspec.Struct):
    error: str


def api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """RunPod takes `Authorization: Bearer <key>` from API clients and the bare key from its SDK's
    worker loop (RUNPOD_AI_API_KEY is sent as is); both are accepted on every route."""
    settings: Settings = connection.app.state.deps.settings
    header = connection.headers.get("authorization", "").strip()
    token = header[7:].strip() if header[:7].lower() == "bearer " else header
    if not token or not hmac.compare_digest(token.encode(), settings.api_key.encode()):
        raise NotAuthorizedException("missing or invalid API key")


def error_handlers() -> dict[int | type[Exception], Any]:
    def answer(status: int) -> Any:
        def handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
            message = exc.detail if isinstance(exc, NotAuthorizedException) else str(exc)
            if isinstance(exc, JobNotFound):
                message = f"job {exc} not found"
            elif isinstance(exc, EndpointNotFound):
                message = f"endpoint {exc} not found"
            return Response(ErrorBody(message), status_code=status)

        return handler

    def injected(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
        assert isinstance(exc, InjectedFailure)
        fault = exc.fault
        headers = {}
        if fault.retry_after_s is not None:  # Retry-After takes whole seconds
            headers["Retry-After"] = str(math.ceil(fault.retry_after_s))
        return Response(ErrorBody(str(exc)), status_code=fault.status, headers=headers)

    return {
        InjectedFailure: injected,
        JobNotFound: answer(404),
        EndpointNotFound: answer(404),
        JobNotRetryable: answer(400),
        InvalidRequest: answer(400),
        NotAuthorizedException: answer(401),
    }
