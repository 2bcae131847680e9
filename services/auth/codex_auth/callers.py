"""Who is calling: a session cookie or a bearer access token, resolved to the user and session.

Other services trust an access token until it expires. Auth itself also checks the session behind
it, so that a sign-out or a revoked session takes effect here at once.
"""

from __future__ import annotations

import dataclasses
import uuid

from codex_auth import repository as repo
from codex_auth.commands import Caller
from codex_auth.deps import Deps
from codex_auth.domain import NotAuthenticated, session_expiry
from codex_auth.tokens import digest, verify_access_token
from codex_platform.http import TokenRejected

SESSION_ENDED = "Your session has ended; sign in again"


async def caller_from_session_token(token: str, *, deps: Deps) -> Caller:
    """The session of a cookie; a session used a day or more after its last extension is extended."""
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        found = await repo.session_and_user(conn, token_hash=digest(token))
        if found is None or not found[0].is_active(now):
            raise NotAuthenticated(SESSION_ENDED)
        session, user = found
        if session.needs_extension(now, deps.session_policy):
            expires_at = session_expiry(now, deps.session_policy)
            await repo.extend_session(conn, session.id, now, expires_at)
            session = dataclasses.replace(session, extended_at=now, expires_at=expires_at)
    return Caller(user, session)


async def caller_from_access_token(token: str, *, deps: Deps) -> Caller:
    try:
        principal = verify_access_token(
            token,
            await deps.keys.published(),
            issuer=deps.settings.jwt_issuer,
            audience=deps.settings.jwt_audience,
            leeway_s=deps.settings.jwt_leeway_s,
        )
        session_id = uuid.UUID(principal.session_id or "")
    except TokenRejected as exc:
        raise NotAuthenticated(f"Invalid access token: {exc.reason}") from None
    except ValueError:
        raise NotAuthenticated("Invalid access token: invalid session id") from None
    async with deps.pool.acquire() as conn:
        found = await repo.session_and_user(conn, session_id=session_id)
    if found is None or not found[0].is_active(deps.clock()) or str(found[1].id) != principal.user_id:
        raise NotAuthenticated(SESSION_ENDED)
    return Caller(found[1], found[0])
