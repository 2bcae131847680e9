"""The commands auth handles: what a caller asks for, already parsed from its transport."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from codex_auth.domain import Role, Session, User


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request came from: the rate-limit key and what the session list shows."""

    ip: str
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request's user, the session it belongs to, and where the request came from."""

    user: User
    session: Session
    client: Client | None = None


@dataclass(frozen=True, slots=True)
class SignUp:
    email: str
    password: str
    display_name: str
    client: Client


@dataclass(frozen=True, slots=True)
class LogIn:
    email: str
    password: str
    client: Client


@dataclass(frozen=True, slots=True)
class RequestEmailVerification:
    email: str
    client: Client


@dataclass(frozen=True, slots=True)
class ConfirmEmail:
    token: str


@dataclass(frozen=True, slots=True)
class RequestPasswordReset:
    email: str
    client: Client


@dataclass(frozen=True, slots=True)
class ResetPassword:
    token: str
    new_password: str
    client: Client


@dataclass(frozen=True, slots=True)
class ChangePassword:
    caller: Caller
    current_password: str
    new_password: str


@dataclass(frozen=True, slots=True)
class RevokeSession:
    caller: Caller
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ChangeRole:
    caller: Caller
    user_id: uuid.UUID
    role: Role


@dataclass(frozen=True, slots=True)
class CreateAdmin:
    email: str
    password: str
    display_name: str
