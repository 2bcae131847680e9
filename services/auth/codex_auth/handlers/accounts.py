"""Accounts: sign-up, the first admin, roles, and the verification mail a new account gets.

An account is usable once its address is confirmed (`require_email_verification`, on by default):
until then it belongs to nobody, so a later sign-up for the same address replaces its password and
name, the earlier links stop working, and its `auth.user.registered.v1` waits for the confirmation.
"""

from __future__ import annotations

import uuid

from codex_auth import repository as repo
from codex_auth.audit import security_event
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
from codex_auth.handlers.limits import check_rate, mail_to_address
from codex_auth.mails import signup_attempt_mail, verification_mail
from codex_auth.tokens import digest, new_secret
from codex_contracts.events import UserRegisteredV1, UserRoleChangedV1
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
    if not (await mail_to_address(deps, email)).allowed:
        return  # the address had its share of mails: the answer stays the same, the inbox quiet
    if created:
        deps.background.run_soon("verification", lambda: send_verification(user, deps=deps))
    elif user.email_verified_at is None:
        deps.background.run_soon(
            "pending sign-up", lambda: _renew_pending(user, password_hash, display_name, deps=deps)
        )
    else:
        deps.mail.send_soon(signup_attempt_mail(user.email, user.display_name, deps.settings.app_url))


async def _renew_pending(user: User, password_hash: str, display_name: str, *, deps: Deps) -> None:
    """The newest sign-up for an unconfirmed address takes the account over; whoever signed up
    before (perhaps someone who does not own the address) loses its password, links and sessions."""
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        replaced = await repo.replace_pending_credentials(conn, user.id, password_hash, display_name, now)
        if replaced:
            await repo.revoke_sessions(conn, user.id, now)
    if replaced:
        await send_verification(user, deps=deps)
    else:  # confirmed meanwhile: an account like any other
        deps.mail.send_soon(signup_attempt_mail(user.email, user.display_name, deps.settings.app_url))


def registered_event(user: User, *, deps: Deps) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        registered_at=deps.clock(),
    )


async def register(
    email: str, password_hash: str, display_name: str, role: Role, *, deps: Deps, verified: bool = False
) -> tuple[User, bool]:
    """Insert the user (and, when it is usable at once, its `auth.user.registered.v1` event) in one
    transaction; the existing user (and False) when the address is taken."""
    now = deps.clock()
    user = User(uuid.uuid4(), email, display_name, role, password_hash, now if verified else None, now)
    async with deps.pool.acquire() as conn, conn.transaction():
        if await repo.insert_user(conn, user):
            if verified or not deps.settings.require_email_verification:
                await deps.outbox.add(conn, registered_event(user, deps=deps))
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


async def _set_role(
    user_id: uuid.UUID, role: Role, *, actor: uuid.UUID | None, client_ip: str | None, deps: Deps
) -> User:
    """Change the role and, when it changed, record `auth.user.role_changed.v1` in the same transaction."""
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        changed = await repo.set_role(conn, user_id, role, now)
        if changed is None:
            raise NotFound("There is no user with this id")
        previous, user = changed
        if previous != role:
            event = UserRoleChangedV1(
                user_id=str(user.id),
                previous_role=previous,
                role=role,
                changed_by=None if actor is None else str(actor),
                changed_at=now,
            )
            await deps.outbox.add(conn, event)
    if previous != role:
        security_event(
            "role_changed",
            user_id=user.id,
            actor_id=actor,
            client_ip=client_ip,
            previous_role=previous,
            role=role,
        )
    return user


async def change_role(cmd: ChangeRole, *, deps: Deps) -> User:
    if not may_change_role(cmd.caller.user.role, cmd.caller.user.id, cmd.user_id):
        if cmd.caller.user.role == "admin":
            raise NotPermitted("Admins cannot change their own role; ask another admin")
        raise NotPermitted("Only admins change roles")
    client_ip = cmd.caller.client.ip if cmd.caller.client else None
    return await _set_role(cmd.user_id, cmd.role, actor=cmd.caller.user.id, client_ip=client_ip, deps=deps)


async def create_admin(cmd: CreateAdmin, *, deps: Deps) -> tuple[User, bool]:
    """Create an admin (address verified: an operator vouches for it), or promote the existing account.

    Returns the user and whether it was created.
    """
    email = normalise_email(cmd.email)
    display_name = normalise_display_name(cmd.display_name)
    password_hash = await deps.passwords.hash(normalise_password(cmd.password))
    user, created = await register(email, password_hash, display_name, "admin", deps=deps, verified=True)
    if created:
        security_event("admin_created", user_id=user.id)
    elif user.role != "admin":
        # From the command line: no actor to name but the operator at the machine.
        user = await _set_role(user.id, "admin", actor=None, client_ip=None, deps=deps)
    return user, created
