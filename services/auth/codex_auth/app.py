"""`create_app()`: the auth service's Litestar app. Assembly only: see bootstrap.py for the wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.spec import SecurityScheme

from codex_auth import settings as auth_settings
from codex_auth.bootstrap import bootstrap
from codex_auth.deps import Deps
from codex_auth.domain import DomainError
from codex_auth.http import ROUTES
from codex_auth.http_auth import COOKIE_SCHEME_NAME, cookie_name, domain_error_handler
from codex_auth.settings import SERVICE, AuthSettings
from codex_platform.http import create_app as create_platform_app

DESCRIPTION = (
    "Accounts, sessions (an HttpOnly cookie), short-lived EdDSA access tokens for "
    "`Authorization: Bearer`, and the JWKS that lets every service verify them."
)


def provide_deps(state: State) -> Deps:
    deps: Deps = state.deps
    return deps


def create_app(settings: AuthSettings | None = None, **overrides: Any) -> Litestar:
    """The app; `overrides` go to `bootstrap` (a pool, Redis client, mailer or clock of the caller's)."""
    settings = settings or auth_settings.load()

    @asynccontextmanager
    async def dependencies(app: Litestar) -> AsyncIterator[None]:
        async with bootstrap(settings, **overrides) as deps:
            app.state.deps = deps
            yield

    async def database_ready() -> None:
        await app.state.deps.pool.fetchval("SELECT 1")

    async def redis_ready() -> None:
        await app.state.deps.redis.ping()

    app = create_platform_app(
        service=SERVICE,
        description=DESCRIPTION,
        route_handlers=ROUTES,
        readiness_checks={"database": database_ready, "redis": redis_ready},
        cors_origins=settings.cors_origins,
        lifespan=[dependencies],
        dependencies={"deps": Provide(provide_deps, sync_to_thread=False)},
        exception_handlers={DomainError: domain_error_handler},
        # Auth verifies its own tokens from its key ring, not through a JwtVerifier (create_app's jwt=).
        bearer_scheme=True,
        security_schemes={
            COOKIE_SCHEME_NAME: SecurityScheme(
                type="apiKey", security_scheme_in="cookie", name=cookie_name(settings)
            ),
        },
    )
    return app
