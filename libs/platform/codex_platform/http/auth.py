"""Bearer-token authentication for Litestar routes: opt-in guards and a ``principal`` dependency.

A route is protected when it has a guard (``guards=[requires_auth]`` or ``[require_role("admin")]``,
on the handler, its controller or its router) or when it declares ``principal: CurrentPrincipal``: the
dependency verifies the token itself, so a handler that needs a caller can never run without one.
Routes without either stay public (health probes, login, webhooks authenticated otherwise).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from codex_platform.http.jwt_verifier import JwksUnavailable, JwtVerifier, Principal, TokenRejected
from codex_platform.http.problems import Problem

JWT_VERIFIER_STATE_KEY = "codex_jwt_verifier"
# For OpenAPI: create_app declares this scheme when given a verifier; protected controllers add
# security=BEARER_SECURITY so the docs show the lock.
BEARER_SCHEME_NAME = "bearerAuth"
BEARER_SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME_NAME: []}]

CurrentPrincipal: TypeAlias = NamedDependency[Principal]
"""Annotate a handler parameter ``principal: CurrentPrincipal`` to receive the verified caller."""

_log = structlog.get_logger("codex.http.auth")


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal of the request's bearer token (verified once per request, then kept in scope).

    Raises ``Problem`` 401 (missing or invalid token, with ``WWW-Authenticate``) or 503 (the JWKS
    cannot be fetched).
    """
    cached = connection.scope.get("user")
    if isinstance(cached, Principal):
        return cached
    verifier = connection.app.state.get(JWT_VERIFIER_STATE_KEY)
    if not isinstance(verifier, JwtVerifier):
        raise ImproperlyConfiguredException("route requires authentication but create_app got no jwt=")
    token = _bearer_token(connection.headers.get("authorization"))
    if token is None:
        # RFC 6750 3.1: a request without credentials gets the challenge without an error code.
        raise Problem(
            401, detail="A bearer access token is required.", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        principal = await verifier.verify(token)
    except TokenRejected as exc:
        _log.info("access_token_rejected", reason=exc.reason)
        challenge = f'Bearer error="invalid_token", error_description="{_quoted(exc.reason)}"'
        raise Problem(
            401, detail=f"Invalid access token: {exc.reason}.", headers={"WWW-Authenticate": challenge}
        ) from None
    except JwksUnavailable:
        raise Problem(
            503, detail="Access tokens cannot be verified right now.", headers={"Retry-After": "10"}
        ) from None
    connection.scope["user"] = principal
    structlog.contextvars.bind_contextvars(user_id=principal.user_id)
    return principal


async def requires_auth(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the request must carry a valid access token (then ``request.user`` is its Principal)."""
    await authenticate(connection)


def require_roles(*roles: str) -> Guard:
    """Guard: a valid access token whose role is one of ``roles`` (else 401, or 403 for the role)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(roles)
    listed = ", ".join(sorted(allowed))

    async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if principal.role not in allowed:
            raise Problem(
                403,
                detail=f"This action requires the role {listed}.",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )

    return role_guard


def require_role(role: str) -> Guard:
    """Guard: a valid access token with exactly this role."""
    return require_roles(role)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """Dependency behind ``principal: CurrentPrincipal`` in a handler's signature."""
    return await authenticate(request)


def principal_dependency() -> Provide:
    """The ``Provide`` that create_app registers under the name ``principal``."""
    return Provide(provide_principal)
