"""``create_app``: the one Litestar application factory every Codex service uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme
from litestar.plugins import PluginProtocol
from litestar.routes import HTTPRoute
from litestar.types import (
    ControllerRouterHandler,
    Dependencies,
    ExceptionHandlersMap,
    LifespanHook,
    Middleware,
)
from prometheus_client import CollectorRegistry

from codex_platform.http.auth import BEARER_SCHEME_NAME, JWT_VERIFIER_STATE_KEY, principal_dependency
from codex_platform.http.health import ReadinessCheck, liveness, readiness_route
from codex_platform.http.jwt_verifier import JwtVerifier
from codex_platform.http.metrics import http_metrics_for, metrics_route
from codex_platform.http.observe import RequestObservationMiddleware
from codex_platform.http.openapi_structs import WireTruthStructPlugin
from codex_platform.http.problems import handle_exception, handle_undecodable_body
from codex_platform.http.request_id import REQUEST_ID_HEADER

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""JSON APIs only: media bytes go straight to object storage through presigned URLs."""

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[Any]] | AbstractAsyncContextManager[Any]


def create_app(
    *,
    service: str,
    route_handlers: Sequence[ControllerRouterHandler],
    version: str = "0.1.0",
    description: str | None = None,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    readiness_timeout_s: float = 2.0,
    cors_origins: Sequence[str] = (),
    jwt: JwtVerifier | None = None,
    bearer_scheme: bool | None = None,
    security_schemes: Mapping[str, SecurityScheme] | None = None,
    on_startup: Sequence[LifespanHook] = (),
    on_shutdown: Sequence[LifespanHook] = (),
    lifespan: Sequence[Lifespan] = (),
    dependencies: Dependencies | None = None,
    middleware: Sequence[Middleware] = (),
    plugins: Sequence[PluginProtocol] = (),
    exception_handlers: ExceptionHandlersMap | None = None,
    state: Mapping[str, Any] | None = None,
    request_max_body_size: int = DEFAULT_MAX_BODY_BYTES,
    metrics_registry: CollectorRegistry | None = None,
    debug: bool = False,
) -> Litestar:
    """Assemble a service's Litestar app with the platform's operational surface.

    Adds ``GET /healthz``, ``GET /readyz`` (each of ``readiness_checks`` bounded by
    ``readiness_timeout_s``), ``GET /metrics`` (``metrics_registry`` or the default registry) and
    OpenAPI under ``/docs`` (Scalar UI, ``/docs/swagger``, ``/docs/openapi.json``); answers every
    error as RFC 9457 problem details; gives every request an ``X-Request-ID``, an access log line
    and metrics; allows CORS from ``cors_origins`` with credentials. With ``jwt``, the guards of
    ``codex_platform.http.auth`` and the ``principal`` dependency verify bearer tokens with it.
    OpenAPI declares the bearer security scheme (``BEARER_SCHEME_NAME``) when ``bearer_scheme`` is
    true, by default when ``jwt`` is given; pass ``bearer_scheme=True`` where a service verifies
    tokens its own way. ``security_schemes`` declares further ones (a session cookie, say).
    ``debug`` never puts tracebacks in responses; they are in the log either way.
    """
    if "*" in cors_origins:
        # Browsers refuse "Access-Control-Allow-Origin: *" on credentialed requests.
        raise ValueError("cors_origins must list origins explicitly: credentials are allowed")
    registry = metrics_registry
    metrics = http_metrics_for(registry)
    app_state: dict[str, Any] = dict(state or {})
    shutdown_hooks = list(on_shutdown)
    if jwt is not None:
        app_state[JWT_VERIFIER_STATE_KEY] = jwt
        shutdown_hooks.append(jwt.aclose)

    app = Litestar(
        route_handlers=[
            liveness,
            readiness_route(readiness_checks or {}, readiness_timeout_s),
            metrics_route(metrics.registry),
            *route_handlers,
        ],
        dependencies={"principal": principal_dependency(), **(dependencies or {})},
        exception_handlers={
            Exception: handle_exception,
            UnicodeDecodeError: handle_undecodable_body,
            **(exception_handlers or {}),
        },
        cors_config=_cors_config(cors_origins),
        openapi_config=_openapi_config(
            service,
            version,
            description,
            with_bearer=jwt is not None if bearer_scheme is None else bearer_scheme,
            security_schemes=security_schemes or {},
        ),
        middleware=list(middleware),
        # Ahead of Litestar's own Struct plugin: the documents state every rule msgspec enforces.
        plugins=[WireTruthStructPlugin(), *plugins],
        on_startup=list(on_startup),
        on_shutdown=shutdown_hooks,
        lifespan=list(lifespan),
        state=State(app_state),
        request_max_body_size=request_max_body_size,
        # Logging is codex_platform.logging's job; Litestar's default config would reconfigure the
        # stdlib root logger behind its back.
        logging_config=None,
        debug=debug,
    )
    # Litestar runs its middleware only for matched routes; wrapping its outermost handler gives 404,
    # 405 and CORS preflight answers a request id, an access log line and metrics too.
    app.asgi_handler = RequestObservationMiddleware(app.asgi_handler, metrics)
    _allow_every_method(app)
    return app


def _allow_every_method(app: Litestar) -> None:
    """Make each path's automatic OPTIONS answer list every method of the path in `Allow`.

    Litestar builds that handler with the path's route object of the moment and rebuilds the route as
    further handlers join the path, so `Allow` named only the first handler's methods (GET /content/{id}
    answered `Allow: GET, OPTIONS` beside its PATCH). The handler reads the route from its closure:
    point it at the route as finally built.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            cells = getattr(handler.fn, "__closure__", None) or ()
            if handler.http_methods == {"OPTIONS"} and handler.fn.__name__ == "options_handler":
                for cell in cells:
                    if isinstance(cell.cell_contents, HTTPRoute):
                        cell.cell_contents = route


def _cors_config(origins: Sequence[str]) -> CORSConfig | None:
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_credentials=True,
        # Without these, browser code cannot read the request id or honour a 429's Retry-After.
        expose_headers=[REQUEST_ID_HEADER, "Retry-After", "Location"],
    )


def _openapi_config(
    service: str,
    version: str,
    description: str | None,
    *,
    with_bearer: bool,
    security_schemes: Mapping[str, SecurityScheme],
) -> OpenAPIConfig:
    schemes: dict[str, SecurityScheme | Reference] = {}
    if with_bearer:
        schemes[BEARER_SCHEME_NAME] = SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
    schemes.update(security_schemes)
    components = Components(security_schemes=schemes or None)
    return OpenAPIConfig(
        title=f"codex {service}",
        version=version,
        description=description,
        path="/docs",
        render_plugins=[ScalarRenderPlugin(path=["/", "/scalar"]), SwaggerRenderPlugin(path="/swagger")],
        components=components,
        use_handler_docstrings=True,
    )
