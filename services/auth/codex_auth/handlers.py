"""Command handlers: plain async functions `(command, *, deps)`. No HTTP here: http.py and cli.py
translate their transport into these calls, and tests call them directly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from codex_auth import repository as repo
from codex_auth.commands import (
    Caller,
    ChangeRole,
    Client,
    CreateAdmin,
    LogIn,
    RevokeSession,
    SignUp,
)
from codex_auth.deps import Deps
from codex_auth.domain import (
    DEFAULT_ROLE,
    AccountLocked,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    NotPermitted,
    RateLimited,
    Role,
    Session,
    User,
    may_change_role,
    normalise_display_name,
    normalise_email,
    normalise_password,
    session_expiry,
)
from codex_auth.mails import signup_attempt_mail, verification_mail
from codex_auth.settings import rate
from codex_auth.tokens import digest, issue_access_token, new_secret
from codex_contracts.events import UserRegisteredV1
from codex_platform.ratelimit import client_bucket


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A signed-in session: the cookie's secret and expiry, and an access token for it."""

    session_token: str | None  # None when the session already existed (refresh): the cookie stays
    session: Session
    access_token: str
    expires_in: int


async def check_rate(deps: Deps, name: str, key: str, spec: str) -> None:
    decision = await deps.limiter.hit(name, key, rate(spec))
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)


async def sign_up(cmd: SignUp, *, deps: Deps) -> None:
    """Create the account, or mail the owner of an existing one; the caller cannot tell which."""
    await check_rate(deps, "signup", client_bucket(cmd.client.ip), deps.settings.signup_limit)
    email = normalise_email(cmd.email)
    password = normalise_password(cmd.password)
    display_name = normalise_display_name(cmd.display_name)
    # Hashed whether or not the address is taken, so both answers take the same time.
    password_hash = await deps.passwords.hash(password)
    user, created = await register(email, password_hash, display_name, DEFAULT_ROLE, deps=deps)
    if created:
        await send_verification(user, deps=deps)
    else:
        deps.mail.send_soon(signup_attempt_mail(user.email, user.display_name, deps.settings.app_url))


async def register(
    email: str, password_hash: str, display_name: str, role: Role, *, deps: Deps, verified: bool = False
) -> tuple[User, bool]:
    """Insert the user and its `auth.user.registered.v1` event in one transaction; the existing
    user (and False) when the address is taken."""
    now = deps.clock()
    user = User(uuid.uuid4(), email, display_name, role, password_hash, now if verified else None, now)
    async with deps.pool.acquire() as conn, conn.transaction():
        if await repo.insert_user(conn, user):
            event = UserRegisteredV1(
                user_id=str(user.id),
                email=user.email,
                display_name=user.display_name,
                role=user.role,
                registered_at=now,
            )
            await deps.outbox.add(conn, event)
            return user, True
        existing = await repo.user_by_email(conn, email)
    assert existing is not None
    return existing, False


async def send_verification(user: User, *, deps: Deps) -> None:
    token = new_secret()
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        await repo.insert_one_time_token(
            conn, digest(token), user.id, "verify_email", now, now + deps.one_time_token_ttl
        )
    minutes = deps.settings.one_time_token_ttl_s // 60
    deps.mail.send_soon(
        verification_mail(user.email, user.display_name, token, deps.settings.app_url, minutes)
    )


async def log_in(cmd: LogIn, *, deps: Deps) -> SessionGrant:
    await check_rate(deps, "login", client_bucket(cmd.client.ip), deps.settings.login_limit)
    try:
        email = normalise_email(cmd.email)
        password = normalise_password(cmd.password)
    except InvalidInput:
        raise InvalidCredentials() from None  # no account can have this address or password
    user = await verify_password(email, password, deps=deps)
    new_hash = (
        await deps.passwords.hash(password) if deps.passwords.needs_rehash(user.password_hash) else None
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        if new_hash is not None:
            # The cost parameters were raised since this hash was made: the password is at hand, so
            # upgrade now rather than never.
            await repo.set_password_hash(conn, user.id, new_hash, deps.clock())
        token, session = await open_session(conn, user, cmd.client, deps=deps)
    return await grant(user, session, token, deps=deps)


async def verify_password(email: str, password: str, *, deps: Deps) -> User:
    """The account, when the password is right; counts failures towards the account's lock.

    An unknown address costs a hash, counts a failure and fails like a wrong password, so neither
    the answer, its timing nor the lock tells whether the address has an account.
    """
    locked_for = await deps.login_lock.locked_for(email)
    if locked_for:
        raise AccountLocked(locked_for)
    async with deps.pool.acquire() as conn:
        user = await repo.user_by_email(conn, email)
    if user is None:
        await deps.passwords.verify_nothing(password)
    elif await deps.passwords.verify(user.password_hash, password):
        await deps.login_lock.clear(email)
        return user
    await deps.login_lock.record_failure(email)
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


async def revoke_other_sessions(caller: Caller, *, deps: Deps) -> int:
    async with deps.pool.acquire() as conn:
        return await repo.revoke_sessions(conn, caller.user.id, deps.clock(), keep=caller.session.id)


async def change_role(cmd: ChangeRole, *, deps: Deps) -> User:
    if not may_change_role(cmd.caller.user.role, cmd.caller.user.id, cmd.user_id):
        if cmd.caller.user.role == "admin":
            raise NotPermitted("Admins cannot change their own role; ask another admin")
        raise NotPermitted("Only admins change roles")
    async with deps.pool.acquire() as conn:
        user = await repo.set_role(conn, cmd.user_id, cmd.role, deps.clock())
    if user is None:
        raise NotFound("There is no user with this id")
    return user


async def create_admin(cmd: CreateAdmin, *, deps: Deps) -> tuple[User, bool]:
    """Create an admin (address verified: an operator vouches for it), or promote the existing account.

    Returns the user and whether it was created.
    """
    email = normalise_email(cmd.email)
    display_name = normalise_display_name(cmd.display_name)
    password_hash = await deps.passwords.hash(normalise_password(cmd.password))
    user, created = await register(email, password_hash, display_name, "admin", deps=deps, verified=True)
    if not created and user.role != "admin":
        async with deps.pool.acquire() as conn:
            promoted = await repo.set_role(conn, user.id, "admin", deps.clock())
        assert promoted is not None
        user = promoted
    return user, created
