"""Accounts: sign-up, the first admin, roles, and the verification mail a new account gets."""

from __future__ import annotations

import uuid

from codex_auth import repository as repo
from codex_auth.commands import (
    ChangeRole,
    CreateAdmin,
    SignUp,
)
from codex_auth.deps import Deps
from codex_auth.domain import (
    DEFAULT_ROLE,
    NotFound,
    NotPermitted,
    Role,
    User,
    may_change_role,
    normalise_display_name,
    normalise_email,
    normalise_password,
)
from codex_auth.handlers.limits import check_rate
from codex_auth.mails import signup_attempt_mail, verification_mail
from codex_auth.tokens import digest, new_secret
from codex_contracts.events import UserRegisteredV1
from codex_platform.ratelimit import client_bucket


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
