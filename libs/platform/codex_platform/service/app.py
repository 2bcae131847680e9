"""`service_app`: a service's whole Litestar app from its settings, its bootstrap and its routes.

    def create_app(settings: CatalogSettings | None = None, **overrides: Any) -> Litestar:
        return service_app(settings or CatalogSettings.load(), bootstrap, ROUTES, overrides=overrides)

The lifespan enters `bootstrap(settings, **overrides)` and puts what it yields on `app.state.deps`;
handlers take it as the `deps` dependency. /readyz checks what the deps hold (see readiness.py);
`DomainError`s answer as problem details with their own status; bearer tokens are verified against
the auth service's JWKS (`settings.jwks_url`) unless the service verifies its own (auth).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap, Middleware

from codex_platform.errors import DomainError
from codex_platform.http.app import DEFAULT_MAX_BODY_BYTES, create_app
from codex_platform.http.domain_errors import handle_domain_error
from codex_platform.http.jwt_verifier import JwtVerifier
from codex_platform.service.readiness import readiness_checks
from codex_platform.service.settings import ServiceSettings

__all__ = ["Bootstrap", "deps_type_of", "service_app"]

Bootstrap = Callable[..., AbstractAsyncContextManager[Any]]
"""`bootstrap(settings, **overrides)`: an async context manager that yields the service's deps."""


def provide_deps(state: State) -> Any:
    return state.deps


def deps_type_of(bootstrap: Bootstrap) -> type[Any]:
    """The deps class a bootstrap yields, read from its `-> AsyncIterator[Deps]` annotation."""
    function = inspect.unwrap(bootstrap)
    returned = function.__annotations__.get("return")
    if isinstance(returned, str):
        # Only the return annotation is read: parameters may use generics that exist for type checkers
        # alone (`asyncpg.Pool[Any]`).
        inner = re.fullmatch(r"\s*(?:[\w.]+\.)?AsyncIterator\[\s*([\w.]+)\s*\]\s*", returned)
        returned = eval(inner.group(1), function.__globals__) if inner else None  # noqa: S307
    else:
        args = typing.get_args(returned)
        returned = args[0] if args else None
    if not isinstance(returned, type):
        raise TypeError(f"{bootstrap.__qualname__} must be annotated `-> AsyncIterator[Deps]`")
    return returned


def service_app(
    settings: ServiceSettings,
    bootstrap: Bootstrap,
    routes: Sequence[ControllerRouterHandler],
    *,
    overrides: Mapping[str, Any] | None = None,
    description: str | None = None,
    verify_tokens: bool = True,
    security_schemes: Mapping[str, SecurityScheme] | None = None,
    exception_handlers: ExceptionHandlersMap | None = None,
    middleware: Sequence[Middleware] = (),
    dependencies: Mapping[str, Provide] | None = None,
    request_max_body_size: int = DEFAULT_MAX_BODY_BYTES,
) -> Litestar:
    """Assemble the service's app (see the module's docstring).

    `verify_tokens=False` is for a service that checks bearer tokens itself (auth signs them): OpenAPI
    still declares the bearer scheme. `overrides` go to `bootstrap` (a test's pool, clock or fake).
    `dependencies` adds named dependencies beside `deps` (parts of it, say). Deps with a `drain()`
    coroutine have it called when the server begins to shut down, before its port closes.
    """
    app_ref: list[Litestar] = []

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with bootstrap(settings, **dict(overrides or {})) as deps:
            app.state.deps = deps
            drain = getattr(deps, "drain", None)
            if drain is not None:
                app.state.drain = drain
            yield

    jwt = None
    if verify_tokens:
        jwt = JwtVerifier(
            settings.jwks_url,
            settings.jwt_issuer,
            settings.jwt_audience,
            leeway_s=settings.jwt_leeway_s,
        )
    app = create_app(
        service=settings.service,
        description=description,
        route_handlers=routes,
        readiness_checks=readiness_checks(deps_type_of(bootstrap), lambda: app_ref[0].state.deps),
        cors_origins=settings.cors_origins,
        lifespan=[lifespan],
        dependencies={"deps": Provide(provide_deps, sync_to_thread=False), **(dependencies or {})},
        exception_handlers={DomainError: handle_domain_error, **(exception_handlers or {})},
        jwt=jwt,
        bearer_scheme=True,
        security_schemes=security_schemes,
        middleware=middleware,
        request_max_body_size=request_max_body_size,
    )
    app_ref.append(app)
    return app
