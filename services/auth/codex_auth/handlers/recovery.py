"""Proving an address and getting back into an account: single-use mailed tokens, password changes.

The request endpoints answer the same whatever the address, and do what an existing account needs
(finding it, writing the link's token, mailing) only after answering, in the background, so that
neither the answer nor its timing says whether an account exists.
"""

from __future__ import annotations

import uuid

from codex_auth import repository as repo
from codex_auth.audit import security_event
from codex_auth.commands import (
    ChangePassword,
    ConfirmEmail,
    RequestEmailVerification,
    RequestPasswordReset,
    ResetPassword,
)
from codex_auth.deps import Deps
from codex_auth.domain import (
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    RateLimited,
    User,
    WrongPassword,
    normalise_email,
    normalise_password,
)
from codex_auth.handlers.accounts import registered_event, send_verification
from codex_auth.handlers.limits import check_rate, mail_to_address
from codex_auth.handlers.sessions import verify_password
from codex_auth.mails import reset_mail
from codex_auth.tokens import digest, new_secret
from codex_platform.ratelimit import client_account_key, client_bucket


async def _mail_allowed(deps: Deps, name: str, email: str, ip: str) -> str | None:
    """The normalised address when a mail may go to it; rate limits per client and per address."""
    await check_rate(deps, name, client_bucket(ip), deps.settings.mail_limit)
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    decision = await mail_to_address(deps, email)
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)
    return email


async def request_email_verification(cmd: RequestEmailVerification, *, deps: Deps) -> None:
    email = await _mail_allowed(deps, "verify-mail", cmd.email, cmd.client.ip)
    if email is not None:
        deps.background.run_soon("verification request", lambda: _mail_verification(email, deps=deps))


async def _mail_verification(email: str, *, deps: Deps) -> None:
    async with deps.pool.acquire() as conn:
        user = await repo.user_by_email(conn, email)
    if user is not None and user.email_verified_at is None:
        await send_verification(user, deps=deps)


async def _verified(conn: repo.Conn, user_id: uuid.UUID, *, deps: Deps) -> None:
    """After a mailed link proved the address: the account becomes usable and is announced; sessions
    opened before (possible only with verification not required) end, in case their opener was
    not the owner."""
    now = deps.clock()
    user = await repo.mark_email_verified(conn, user_id, now)
    if user is None:
        return  # verified before
    await repo.revoke_sessions(conn, user.id, now)
    if deps.settings.require_email_verification:
        await deps.outbox.add(conn, registered_event(user, deps=deps))


async def confirm_email(cmd: ConfirmEmail, *, deps: Deps) -> None:
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        user_id = await repo.consume_one_time_token(conn, digest(cmd.token), "verify_email", now)
        if user_id is None:
            raise InvalidToken()
        await _verified(conn, user_id, deps=deps)


async def request_password_reset(cmd: RequestPasswordReset, *, deps: Deps) -> None:
    email = await _mail_allowed(deps, "reset-mail", cmd.email, cmd.client.ip)
    if email is not None:
        deps.background.run_soon("reset request", lambda: _mail_reset(email, deps=deps))


async def _mail_reset(email: str, *, deps: Deps) -> None:
    now = deps.clock()
    async with deps.pool.acquire() as conn:
        user = await repo.user_by_email(conn, email)
        if user is None:
            return
        token = new_secret()
        await repo.insert_one_time_token(
            conn, digest(token), user.id, "reset_password", now, now + deps.one_time_token_ttl
        )
    minutes = deps.settings.one_time_token_ttl_s // 60
    deps.mail.send_soon(reset_mail(user.email, user.display_name, token, deps.settings.app_url, minutes))


async def reset_password(cmd: ResetPassword, *, deps: Deps) -> None:
    """Set a new password with a mailed token; every session of the account ends."""
    password = normalise_password(cmd.new_password)
    token_hash = digest(cmd.token)
    async with deps.pool.acquire() as conn:
        # Look before hashing, so that guessing tokens costs a query and not an argon2 hash.
        if await repo.one_time_token_owner(conn, token_hash, "reset_password", deps.clock()) is None:
            raise InvalidToken()
    password_hash = await deps.passwords.hash(password)
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        user_id = await repo.consume_one_time_token(conn, token_hash, "reset_password", now)
        if user_id is None:
            raise InvalidToken()  # used or expired while we hashed
        await repo.set_password_hash(conn, user_id, password_hash, now)
        revoked = await repo.revoke_sessions(conn, user_id, now)
        # Opening the mailed link proves the address, as a verification link would.
        await _verified(conn, user_id, deps=deps)
        user: User | None = await repo.user_by_id(conn, user_id)
    assert user is not None
    security_event("password_reset", user_id=user.id, client_ip=cmd.client.ip, sessions_revoked=revoked)
    # Whoever can read the mailbox may sign in again at once from where they are, even if failures
    # from this network locked the account.
    await deps.login_lock.clear(client_account_key(user.email, cmd.client.ip))


async def change_password(cmd: ChangePassword, *, deps: Deps) -> int:
    """Change a signed-in user's password; the user's other sessions end. Returns how many ended."""
    password = normalise_password(cmd.new_password)
    caller = cmd.caller
    client_ip = caller.client.ip if caller.client else (caller.session.ip or "unknown")
    try:
        current = normalise_password(cmd.current_password)
        # Counts towards the account's lock: a stolen session must not become a password oracle.
        await verify_password(caller.user.email, current, client_ip, deps=deps)
    except (InvalidInput, InvalidCredentials):
        raise WrongPassword() from None
    password_hash = await deps.passwords.hash(password)
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        await repo.set_password_hash(conn, caller.user.id, password_hash, now)
        revoked = await repo.revoke_sessions(conn, caller.user.id, now, keep=caller.session.id)
    security_event("password_changed", user_id=caller.user.id, client_ip=client_ip, sessions_revoked=revoked)
    return revoked
