"""`create_app()`: the auth service's Litestar app. Assembly only: see bootstrap.py for the wiring."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import SecurityScheme

from codex_auth.bootstrap import bootstrap
from codex_auth.http import ROUTES
from codex_auth.http_session import COOKIE_SCHEME_NAME, cookie_name
from codex_auth.settings import AuthSettings
from codex_platform.service import service_app

DESCRIPTION = (
    "Accounts, sessions (an HttpOnly cookie), short-lived EdDSA access tokens for "
    "`Authorization: Bearer`, and the JWKS that lets every service verify them."
)


def create_app(settings: AuthSettings | None = None, **overrides: Any) -> Litestar:
    """The app; `overrides` go to `bootstrap` (a pool, Redis client, mailer or clock of the caller's)."""
    settings = settings or AuthSettings.load()
    return service_app(
        settings,
        bootstrap,
        ROUTES,
        overrides=overrides,
        description=DESCRIPTION,
        # Auth verifies its own tokens from its key ring (and the session behind each).
        verify_tokens=False,
        security_schemes={
            COOKIE_SCHEME_NAME: SecurityScheme(
                type="apiKey", security_scheme_in="cookie", name=cookie_name(settings)
            ),
        },
    )
