"""The HTTP API: each route turns its request into a command, calls its handler, shapes the answer."""

from __future__ import annotations

import uuid
from typing import Any, TypeAlias

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, SkipValidation
from litestar.types import ControllerRouterHandler

from codex_auth import handlers
from codex_auth.commands import (
    Caller,
    ChangePassword,
    ChangeRole,
    ConfirmEmail,
    LogIn,
    RequestEmailVerification,
    RequestPasswordReset,
    ResetPassword,
    RevokeSession,
    SignUp,
)
from codex_auth.deps import Deps
from codex_auth.domain import NotAuthenticated
from codex_auth.http_session import (
    COOKIE_ONLY,
    SIGNED_IN,
    check_origin,
    cleared_cookie,
    client_of,
    cookie_name,
    provide_caller,
    provide_cookie_caller,
    token_response,
)
from codex_auth.payloads import (
    Accepted,
    AccessToken,
    EmailRequest,
    Jwk,
    Jwks,
    LogInRequest,
    PasswordChangeRequest,
    PasswordResetRequest,
    RoleChangeRequest,
    SessionList,
    SessionsRevoked,
    SessionView,
    SignUpRequest,
    TokenRequest,
    UserView,
)
from codex_platform.http import problems as platform_problems

AnyRequest = Request[Any, Any, Any]

_DESCRIPTIONS = {
    400: "Invalid request (the `errors` member names the fields), invalid or expired token",
    401: "Not signed in, or wrong email or password",
    403: "Not allowed (role, or a cookie request from an untrusted origin)",
    404: "No such resource",
    429: "Too many attempts; see Retry-After",
    503: "Too many sign-ins being checked at once; see Retry-After",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """codex_platform's `problems()`, in auth's words for what each status means here."""
    return platform_problems(*statuses, descriptions=_DESCRIPTIONS)


# Dependencies we build ourselves: Litestar need not (and, for asyncpg's pool, cannot) validate them.
DepsParam: TypeAlias = SkipValidation[Deps]
CallerParam: TypeAlias = SkipValidation[Caller]
SIGNUP_ACCEPTED = "Check your inbox: we sent a mail to this address."
MAIL_ACCEPTED = "If an account uses this address, a mail is on its way."


class AccountController(Controller):
    path = "/auth"
    tags = ["accounts"]
    dependencies = {
        "caller": Provide(provide_caller),
        "cookie_caller": Provide(provide_cookie_caller),
    }

    @post("/signup", operation_id="signUp", status_code=202, responses=problems(400, 403, 429, 503))
    async def sign_up(self, data: JSONBody[SignUpRequest], request: AnyRequest, deps: DepsParam) -> Accepted:
        """Create an account (role customer) and mail a verification link. An address that already
        has an account gets the same answer, and its owner a mail saying someone tried."""
        check_origin(request, deps.settings, required=False)
        command = SignUp(data.email, data.password, data.display_name, client_of(request))
        await handlers.sign_up(command, deps=deps)
        return Accepted(detail=SIGNUP_ACCEPTED)

    @post("/login", operation_id="logIn", status_code=200, responses=problems(400, 401, 403, 429, 503))
    async def log_in(
        self, data: JSONBody[LogInRequest], request: AnyRequest, deps: DepsParam
    ) -> Response[AccessToken]:
        """Start a session: sets the session cookie and returns a 15-minute access token."""
        check_origin(request, deps.settings, required=False)
        grant = await handlers.log_in(LogIn(data.email, data.password, client_of(request)), deps=deps)
        assert grant.session_token is not None
        return token_response(grant, grant.session_token, deps)

    @post(
        "/refresh",
        operation_id="refreshAccessToken",
        status_code=200,
        responses=problems(401, 403),
        security=COOKIE_ONLY,
    )
    async def refresh(
        self, request: AnyRequest, cookie_caller: CallerParam, deps: DepsParam
    ) -> Response[AccessToken]:
        """A new access token from the session cookie; the cookie is renewed with the session."""
        grant = await handlers.refresh(cookie_caller, deps=deps)
        return token_response(grant, request.cookies[cookie_name(deps.settings)], deps)

    @post(
        "/logout",
        operation_id="logOut",
        status_code=204,
        # The answer is a Response (it clears the cookie); without this, the docs would promise JSON.
        responses={204: ResponseSpec(None, description="Signed out; the cookie is cleared"), **problems(403)},
        # Credentials are optional (`{}`): signing out without a session (already signed out, expired)
        # has nothing to end but still clears the cookie, so it answers 204 and never 401.
        security=[*SIGNED_IN, {}],
    )
    async def log_out(self, request: AnyRequest, deps: DepsParam) -> Response[None]:
        """End this session (cookie or bearer token's session) and clear the cookie."""
        try:
            caller = await provide_caller(request, deps)
        except NotAuthenticated:
            caller = None  # already signed out: clearing the cookie is all there is to do
        if caller is not None:
            await handlers.log_out(caller, deps=deps)
        return Response(None, status_code=204, cookies=[cleared_cookie(deps.settings)])

    @get("/me", operation_id="getMe", security=SIGNED_IN, responses=problems(401))
    async def me(self, caller: CallerParam) -> UserView:
        """The signed-in user."""
        return UserView.of(caller.user)

    @get("/sessions", operation_id="listSessions", security=SIGNED_IN, responses=problems(401))
    async def sessions(self, caller: CallerParam, deps: DepsParam) -> SessionList:
        """The user's active sessions, newest first; `current` marks the one making this request."""
        sessions = await handlers.list_sessions(caller, deps=deps)
        return SessionList(sessions=[SessionView.of(s, caller.session.id) for s in sessions])

    @delete(
        "/sessions/{session_id:uuid}",
        operation_id="revokeSession",
        security=SIGNED_IN,
        responses=problems(400, 401, 403, 404),
    )
    async def revoke_session(
        self, session_id: FromPath[uuid.UUID], caller: CallerParam, deps: DepsParam
    ) -> None:
        """End one of the user's sessions (this one included)."""
        await handlers.revoke_session(RevokeSession(caller, session_id), deps=deps)

    @post(
        "/sessions/revoke-others",
        operation_id="revokeOtherSessions",
        status_code=200,
        responses=problems(401, 403),
        security=SIGNED_IN,
    )
    async def revoke_others(self, caller: CallerParam, deps: DepsParam) -> SessionsRevoked:
        """End every session of the user except the one making this request."""
        return SessionsRevoked(revoked=await handlers.revoke_other_sessions(caller, deps=deps))

    @post(
        "/password/change",
        operation_id="changePassword",
        status_code=200,
        responses=problems(400, 401, 403, 429, 503),
        security=SIGNED_IN,
    )
    async def change_password(
        self, data: JSONBody[PasswordChangeRequest], caller: CallerParam, deps: DepsParam
    ) -> SessionsRevoked:
        """Change the password (the current one is required); every other session ends."""
        command = ChangePassword(caller, data.current_password, data.new_password)
        return SessionsRevoked(revoked=await handlers.change_password(command, deps=deps))

    @patch(
        "/users/{user_id:uuid}/role",
        operation_id="changeRole",
        security=SIGNED_IN,
        responses=problems(400, 401, 403, 404),
    )
    async def change_role(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[RoleChangeRequest],
        caller: CallerParam,
        deps: DepsParam,
    ) -> UserView:
        """Admins only: give a user the role customer, creator or admin (never their own)."""
        user = await handlers.change_role(ChangeRole(caller, user_id, data.role), deps=deps)
        return UserView.of(user)


class RecoveryController(Controller):
    path = "/auth"
    tags = ["email verification and password reset"]

    @post(
        "/verify-email/request",
        operation_id="requestEmailVerification",
        status_code=202,
        responses=problems(400, 429),
    )
    async def request_verification(
        self, data: JSONBody[EmailRequest], request: AnyRequest, deps: DepsParam
    ) -> Accepted:
        """Mail a new verification link (valid 1 hour) if the address has an unverified account."""
        await handlers.request_email_verification(
            RequestEmailVerification(data.email, client_of(request)), deps=deps
        )
        return Accepted(detail=MAIL_ACCEPTED)

    @post("/verify-email/confirm", operation_id="confirmEmail", status_code=204, responses=problems(400))
    async def confirm_verification(self, data: JSONBody[TokenRequest], deps: DepsParam) -> None:
        """Mark the address verified with the token from the link (single use)."""
        await handlers.confirm_email(ConfirmEmail(data.token), deps=deps)

    @post(
        "/password-reset/request",
        operation_id="requestPasswordReset",
        status_code=202,
        responses=problems(400, 429),
    )
    async def request_reset(
        self, data: JSONBody[EmailRequest], request: AnyRequest, deps: DepsParam
    ) -> Accepted:
        """Mail a password reset link (valid 1 hour) if the address has an account."""
        await handlers.request_password_reset(RequestPasswordReset(data.email, client_of(request)), deps=deps)
        return Accepted(detail=MAIL_ACCEPTED)

    @post(
        "/password-reset/confirm", operation_id="resetPassword", status_code=204, responses=problems(400, 503)
    )
    async def reset(self, data: JSONBody[PasswordResetRequest], request: AnyRequest, deps: DepsParam) -> None:
        """Set a new password with the token from the link (single use); every session ends."""
        await handlers.reset_password(
            ResetPassword(data.token, data.new_password, client_of(request)), deps=deps
        )


@get("/.well-known/jwks.json", operation_id="getJwks", tags=["keys"])
async def jwks(deps: DepsParam) -> Response[Jwks]:
    """The keys that verify access tokens: the current one and those retired within the grace period."""
    published = await deps.keys.published()
    keys = [Jwk(**key.jwk()) for key in published.values()]
    cache = {"Cache-Control": f"public, max-age={deps.settings.key_cache_ttl_s}"}
    return Response(Jwks(keys=keys), headers=cache)


ROUTES: list[ControllerRouterHandler] = [AccountController, RecoveryController, jwks]
