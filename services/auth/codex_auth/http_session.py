"""The browser session on the wire: the session cookie, the CSRF origin check, and the caller dependencies.

A request authenticates with `Authorization: Bearer <access token>` or with the session cookie. A
cookie is sent by the browser on its own, so a state-changing request that relies on it must come
from a trusted origin (CSRF): its Origin header (or, failing that, its Referer) must be one of the
origins CORS allows. SameSite=Lax already keeps the cookie off most cross-site requests; this check
is the second lock, and it also covers sibling subdomains, which SameSite treats as the same site.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.params import SkipValidation

from codex_auth.commands import Caller, Client
from codex_auth.deps import Deps
from codex_auth.domain import (
    NotAuthenticated,
)
from codex_auth.handlers import SessionGrant, caller_from_access_token, caller_from_session_token
from codex_auth.payloads import AccessToken
from codex_auth.settings import AuthSettings
from codex_platform.http import BEARER_SCHEME_NAME, Problem

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Token responses must not be stored by any cache (RFC 6749, section 5.1).
NO_STORE = {"Cache-Control": "no-store"}
COOKIE_SCHEME_NAME = "sessionCookie"  # the OpenAPI security scheme of the cookie
# Routes that take `caller` accept either credential; refreshing needs the cookie.
SIGNED_IN: list[dict[str, list[str]]] = [{BEARER_SCHEME_NAME: []}, {COOKIE_SCHEME_NAME: []}]
COOKIE_ONLY: list[dict[str, list[str]]] = [{COOKIE_SCHEME_NAME: []}]


def cookie_name(settings: AuthSettings) -> str:
    # __Host- makes the browser refuse the cookie unless it is Secure, host-only and Path=/, so that
    # neither plain HTTP nor a sibling subdomain can plant or overwrite it. Plain HTTP in development.
    return "__Host-codex_session" if settings.secure_cookies else "codex_session"


def session_cookie(settings: AuthSettings, token: str, expires_at: datetime, now: datetime) -> Cookie:
    return Cookie(
        key=cookie_name(settings),
        value=token,
        max_age=max(0, int((expires_at - now).total_seconds())),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def cleared_cookie(settings: AuthSettings) -> Cookie:
    return Cookie(
        key=cookie_name(settings),
        value="",
        max_age=0,
        expires=0,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def token_response(grant: SessionGrant, session_token: str, deps: Deps) -> Response[AccessToken]:
    # Set again on every refresh, so the browser keeps the cookie as long as the (sliding) session.
    cookie = session_cookie(deps.settings, session_token, grant.session.expires_at, deps.clock())
    return Response(
        AccessToken(access_token=grant.access_token, expires_in=grant.expires_in),
        headers=NO_STORE,
        cookies=[cookie],
    )


def client_of(request: Request[Any, Any, Any]) -> Client:
    # uvicorn has already replaced the peer with X-Forwarded-For when the peer is a trusted proxy
    # (FORWARDED_ALLOW_IPS), so the address here is the client's, not the gateway's.
    host = request.client.host if request.client else "unknown"
    return Client(ip=host, user_agent=request.headers.get("user-agent"))


def check_origin(request: Request[Any, Any, Any], settings: AuthSettings, *, required: bool) -> None:
    """Refuse a request from an origin we do not trust; with `required`, also one that names none."""
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "null"
    if origin is None and not required:
        return
    # The service's own origin (its docs page, or the gateway's when Host is passed through) is no
    # other site: a browser on evil.example cannot send our Host header with its own Origin.
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin != own and origin not in settings.cors_origins:
        raise Problem(403, detail="This request must come from a trusted origin (Origin header).")


async def provide_caller(request: Request[Any, Any, Any], deps: SkipValidation[Deps]) -> Caller:
    """The `caller` dependency: bearer token first, else the session cookie (with the CSRF check)."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Use 'Authorization: Bearer <access token>'")
        return await caller_from_access_token(token.strip(), deps=deps, client=client_of(request))
    return await provide_cookie_caller(request, deps)


async def provide_cookie_caller(request: Request[Any, Any, Any], deps: SkipValidation[Deps]) -> Caller:
    """The `cookie_caller` dependency: the session cookie only (refreshing cannot start from a token)."""
    token = request.cookies.get(cookie_name(deps.settings))
    if not token:
        raise NotAuthenticated()
    if request.method not in _SAFE_METHODS:
        check_origin(request, deps.settings, required=True)
    return await caller_from_session_token(token, deps=deps, client=client_of(request))
