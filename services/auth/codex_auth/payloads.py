"""Request and response bodies of the HTTP API, as msgspec Structs (they are also its OpenAPI schemas).

Every rule that is a plain constraint is stated here, in `msgspec.Meta`, so that the wire refuses what
the document refuses (a client generated from it checks the same). The rules that are not plain (an
address that IDNA can encode, lengths after NFKC, spaces collapsed) stay the domain's, which answers
with the field and the reason; the constraints here are the raw forms of the same rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from codex_auth.domain import (
    DISPLAY_NAME_MAX,
    DISPLAY_NAME_PATTERN,
    EMAIL_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    Role,
    Session,
    User,
)

# What a caller may type where an address is looked up (login, mail requests): any text, since an
# address that cannot exist is answered as an unknown one, never as a malformed one.
Email = Annotated[str, msgspec.Meta(max_length=320, examples=["ada@example.com"])]
NewEmail = Annotated[
    str,
    msgspec.Meta(
        max_length=EMAIL_MAX,
        examples=["ada@example.com"],
        extra_json_schema={"format": "email"},
        description="Compared in NFKC, trimmed and in lower case",
    ),
]
# A password being checked: as long as a password ever was (a shorter one is just wrong).
Password = Annotated[str, msgspec.Meta(max_length=1024, examples=["correct horse battery staple"])]
NewPassword = Annotated[
    str,
    msgspec.Meta(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        examples=["correct horse battery staple"],
        description=f"{PASSWORD_MIN} to {PASSWORD_MAX} characters (after NFKC); spaces count",
    ),
]
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=DISPLAY_NAME_MAX,
        pattern=DISPLAY_NAME_PATTERN,
        examples=["Ada Lovelace"],
        description="Not only spaces; no control, format or private-use characters; spaces collapse",
    ),
]
SecretToken = Annotated[str, msgspec.Meta(max_length=256, description="the token from the mailed link")]


class SignUpRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: NewEmail
    password: NewPassword
    display_name: DisplayName


class LogInRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password


class EmailRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: SecretToken


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: SecretToken
    new_password: NewPassword


class PasswordChangeRequest(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: NewPassword


class RoleChangeRequest(msgspec.Struct, forbid_unknown_fields=True):
    role: Role


class Accepted(msgspec.Struct):
    """The answer of requests whose outcome arrives by mail; the same for every address."""

    detail: str


class AccessToken(msgspec.Struct):
    access_token: str
    expires_in: Annotated[int, msgspec.Meta(description="seconds until the access token expires")]
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the scheme's name, not a secret)


class UserView(msgspec.Struct):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )


class SessionView(msgspec.Struct):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: Annotated[bool, msgspec.Meta(description="the session this request was made with")]

    @classmethod
    def of(cls, session: Session, current_id: uuid.UUID) -> SessionView:
        return cls(
            id=session.id,
            created_at=session.created_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            ip=session.ip,
            current=session.id == current_id,
        )


class SessionList(msgspec.Struct):
    sessions: list[SessionView]


class SessionsRevoked(msgspec.Struct):
    revoked: Annotated[int, msgspec.Meta(description="how many sessions ended")]


class Jwk(msgspec.Struct):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class Jwks(msgspec.Struct):
    keys: list[Jwk]
