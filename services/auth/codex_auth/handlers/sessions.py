"""Sessions: login, refresh, logout, listing and revoking; and who is calling (a session cookie or an
access token), with the sliding expiry of a session in use.

Other services trust an access token until it expires. Auth itself also checks the session behind
it, so that a sign-out or a revoked session takes effect here at once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import jwt

from codex_auth import repository as repo
from codex_auth.audit import security_event
from codex_auth.commands import (
    Caller,
    Client,
    LogIn,
    RevokeSession,
)
from codex_auth.deps import Deps
from codex_auth.domain import (
    AccountLocked,
    InvalidCredentials,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    Session,
    User,
    normalise_email,
    normalise_password,
    session_expiry,
)
from codex_auth.handlers.limits import check_rate
from codex_auth.keys import PublishedKey
from codex_auth.tokens import digest, issue_access_token, new_secret, verify_access_token
from codex_platform.http import Principal, TokenRejected
from codex_platform.ratelimit import client_account_key, client_bucket


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A signed-in session: the cookie's secret and expiry, and an access token for it."""

    session_token: str | None  # None when the session already existed (refresh): the cookie stays
    session: Session
    access_token: str
    expires_in: int


async def log_in(cmd: LogIn, *, deps: Deps) -> SessionGrant:
    await check_rate(deps, "login", client_bucket(cmd.client.ip), deps.settings.login_limit)
    try:
        email = normalise_email(cmd.email)
        password = normalise_password(cmd.password)
    except InvalidInput:
        raise InvalidCredentials() from None  # no account can have this address or password
    user = await verify_password(email, password, cmd.client.ip, deps=deps)
    if deps.settings.require_email_verification and user.email_verified_at is None:
        # The same answer as a wrong password: a distinct one would tell whoever just signed up
        # with someone else's address that it had no account before.
        raise InvalidCredentials()
    new_hash = (
        await deps.passwords.hash(password) if deps.passwords.needs_rehash(user.password_hash) else None
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        # Up to a hash's time has passed since the password was verified: a reset or change that
        # committed meanwhile wins (the old password no longer opens anything), and one that comes
        # now waits for this transaction, then ends the session it opened.
        if await repo.password_hash_for_update(conn, user.id) != user.password_hash:
            raise InvalidCredentials()
        if new_hash is not None:
            # The cost parameters were raised since this hash was made: the password is at hand, so
            # upgrade now rather than never.
            await repo.set_password_hash(conn, user.id, new_hash, deps.clock())
        token, session = await open_session(conn, user, cmd.client, deps=deps)
    return await grant(user, session, token, deps=deps)


async def verify_password(email: str, password: str, client_ip: str, *, deps: Deps) -> User:
    """The account, when the password is right; counts failures towards the account's lock from
    this client's network (so that failures elsewhere do not lock its owner out).

    An unknown address costs a hash, counts a failure and fails like a wrong password, so neither
    the answer, its timing nor the lock tells whether the address has an account.
    """
    lock_key = client_account_key(email, client_ip)
    locked_for = await deps.login_lock.locked_for(lock_key)
    if locked_for:
        raise AccountLocked(locked_for)
    async with deps.pool.acquire() as conn:
        user = await repo.user_by_email(conn, email)
    if user is None:
        await deps.passwords.verify_nothing(password)
    elif await deps.passwords.verify(user.password_hash, password):
        await deps.login_lock.clear(lock_key)
        return user
    if locked_s := await deps.login_lock.record_failure(lock_key):
        security_event(
            "account_locked",
            user_id=None if user is None else user.id,
            client_ip=client_ip,
            client_network=client_bucket(client_ip),
            locked_s=locked_s,
        )
    raise InvalidCredentials()


async def open_session(conn: repo.Conn, user: User, client: Client, *, deps: Deps) -> tuple[str, Session]:
    now = deps.clock()
    token = new_secret()
    agent = (client.user_agent or "")[:300] or None
    expires_at = session_expiry(now, deps.session_policy)
    session = Session(uuid.uuid4(), user.id, now, now, expires_at, None, agent, client.ip)
    await repo.insert_session(conn, session, digest(token))
    return token, session


async def grant(user: User, session: Session, token: str | None, *, deps: Deps) -> SessionGrant:
    ttl = timedelta(seconds=deps.settings.access_token_ttl_s)
    access_token = issue_access_token(
        await deps.keys.signing_key(),
        issuer=deps.settings.jwt_issuer,
        audience=deps.settings.jwt_audience,
        user_id=user.id,
        role=user.role,
        session_id=session.id,
        now=deps.clock(),
        ttl=ttl,
    )
    return SessionGrant(token, session, access_token, int(ttl.total_seconds()))


async def refresh(caller: Caller, *, deps: Deps) -> SessionGrant:
    """A new access token for a session authenticated by its cookie (with the user's current role)."""
    return await grant(caller.user, caller.session, None, deps=deps)


def _ip(caller: Caller) -> str | None:
    return caller.client.ip if caller.client else None


async def log_out(caller: Caller, *, deps: Deps) -> None:
    async with deps.pool.acquire() as conn:
        await repo.revoke_session(conn, caller.session.id, caller.user.id, deps.clock())


async def list_sessions(caller: Caller, *, deps: Deps) -> list[Session]:
    async with deps.pool.acquire() as conn:
        return await repo.active_sessions(conn, caller.user.id, deps.clock())


async def revoke_session(cmd: RevokeSession, *, deps: Deps) -> None:
    async with deps.pool.acquire() as conn:
        if not await repo.revoke_session(conn, cmd.session_id, cmd.caller.user.id, deps.clock()):
            raise NotFound("You have no active session with this id")
    security_event(
        "session_revoked",
        user_id=cmd.caller.user.id,
        client_ip=_ip(cmd.caller),
        session_id=str(cmd.session_id),
        by_session_id=str(cmd.caller.session.id),
    )


async def revoke_other_sessions(caller: Caller, *, deps: Deps) -> int:
    async with deps.pool.acquire() as conn:
        revoked = await repo.revoke_sessions(conn, caller.user.id, deps.clock(), keep=caller.session.id)
    security_event(
        "sessions_revoked",
        user_id=caller.user.id,
        client_ip=_ip(caller),
        kept_session_id=str(caller.session.id),
        sessions_revoked=revoked,
    )
    return revoked


SESSION_ENDED = "Your session has ended; sign in again"


async def caller_from_session_token(token: str, *, deps: Deps, client: Client | None = None) -> Caller:
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
    return Caller(user, session, client)


async def _verified_principal(token: str, *, deps: Deps) -> Principal:
    def verify(keys: Mapping[str, PublishedKey]) -> Principal:
        return verify_access_token(
            token,
            keys,
            issuer=deps.settings.jwt_issuer,
            audience=deps.settings.jwt_audience,
            leeway_s=deps.settings.jwt_leeway_s,
        )

    try:
        return verify(await deps.keys.published())
    except TokenRejected as exc:
        if exc.reason != "unknown signing key":
            raise
    # A key this replica has not read yet (another one rotated meanwhile): read the ring once more.
    kid = jwt.get_unverified_header(token).get("kid")
    if isinstance(kid, str) and await deps.keys.reload_for_unknown_kid(kid):
        return verify(await deps.keys.published())
    raise TokenRejected("unknown signing key")


async def caller_from_access_token(token: str, *, deps: Deps, client: Client | None = None) -> Caller:
    try:
        principal = await _verified_principal(token, deps=deps)
        session_id = uuid.UUID(principal.session_id or "")
    except TokenRejected as exc:
        raise NotAuthenticated(f"Invalid access token: {exc.reason}") from None
    except ValueError:
        raise NotAuthenticated("Invalid access token: invalid session id") from None
    async with deps.pool.acquire() as conn:
        found = await repo.session_and_user(conn, session_id=session_id)
    if found is None or not found[0].is_active(deps.clock()) or str(found[1].id) != principal.user_id:
        raise NotAuthenticated(SESSION_ENDED)
    return Caller(found[1], found[0], client)
