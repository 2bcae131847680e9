"""Accounts and sessions, and the rules they obey. No I/O and no framework here.

Everything a user types is normalised once, here, so that one address or password is the same
value wherever it is compared: NFKC first (the full-width and the plain "A" are one letter to a reader,
so they must be one to us), then the checks.
"""

from __future__ import annotations

import sys
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from codex_platform.errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    RateLimited,
)

__all__ = [
    "AccountLocked",
    "DomainError",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidToken",
    "NotAuthenticated",
    "NotFound",
    "NotPermitted",
    "RateLimited",
    "WrongPassword",
]

Role = Literal["customer", "creator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
DEFAULT_ROLE: Role = "customer"

TokenPurpose = Literal["verify_email", "reset_password"]

PASSWORD_MIN = 8
PASSWORD_MAX = 128
DISPLAY_NAME_MAX = 80
EMAIL_MAX = 254  # RFC 5321's limit on a forward path, less the angle brackets

# Characters no display name may hold: controls, invisible format characters, private use, surrogates.
# Not the unassigned ones (Cn): an emoji newer than this Python's Unicode tables is unassigned to it.
FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})


def _character_class(categories: frozenset[str]) -> str:
    """A regex character class body listing every code point of `categories`, as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)) in categories:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))

    def spelled(code: int) -> str:
        # \uXXXX reads the same in Python, ECMAScript and Rust regexes; beyond the BMP the character
        # itself does (ECMAScript has no 8-digit escape).
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "".join(spelled(a) if a == b else f"{spelled(a)}-{spelled(b)}" for a, b in ranges)


# Surrogates stay out of the pattern: JSON decoding refuses a lone one before any rule runs, and regex
# engines disagree about ranges of them.
_FORBIDDEN_IN_NAMES = _character_class(FORBIDDEN_NAME_CATEGORIES - {"Cs"})
DISPLAY_NAME_PATTERN = f"^[^{_FORBIDDEN_IN_NAMES}]*[^\\s{_FORBIDDEN_IN_NAMES}][^{_FORBIDDEN_IN_NAMES}]*$"
"""What `normalise_display_name` accepts, for the wire: no forbidden character, one that is not a space."""


def normalise_email(raw: str) -> str:
    """The one spelling of an address: NFKC, trimmed, lower case, its domain in IDNA (punycode)."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or len(local) > 64:
        raise InvalidInput("email", "Enter an email address such as name@example.com")
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidInput("email", "An email address cannot contain spaces or control characters")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput("email", "The domain of this email address is not valid") from None
    if "." not in domain.strip(".") or domain.startswith(".") or ".." in domain or "@" in local:
        raise InvalidInput("email", "The domain of this email address is not valid")
    email = f"{local}@{domain}"
    if len(email) > EMAIL_MAX:
        raise InvalidInput("email", f"An email address has at most {EMAIL_MAX} characters")
    return email


def normalise_password(raw: str) -> str:
    """NFKC, so a password typed on another keyboard or OS still matches; then 8-128 characters.

    No trimming and no composition rules: NIST SP 800-63B asks for length, not for character classes.
    """
    password = unicodedata.normalize("NFKC", raw)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput("password", f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return password


def normalise_display_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not 1 <= len(name) <= DISPLAY_NAME_MAX:
        raise InvalidInput("display_name", f"A display name has 1 to {DISPLAY_NAME_MAX} characters")
    if any(unicodedata.category(ch) in FORBIDDEN_NAME_CATEGORIES for ch in name):
        raise InvalidInput("display_name", "A display name cannot contain control characters")
    return name


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    password_hash: str
    email_verified_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Sessions live `lifetime` from their last extension; one used after `extend_after` is extended.

    Extending at most once per `extend_after` keeps the session table from being written on every
    request while a session in daily use never expires.
    """

    lifetime: timedelta = timedelta(days=7)
    extend_after: timedelta = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Session:
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    extended_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_agent: str | None
    ip: str | None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def needs_extension(self, now: datetime, policy: SessionPolicy) -> bool:
        return now - self.extended_at >= policy.extend_after


def session_expiry(now: datetime, policy: SessionPolicy) -> datetime:
    return now + policy.lifetime


def may_change_role(actor_role: Role, actor_id: uuid.UUID, target_id: uuid.UUID) -> bool:
    """Only admins change roles, and never their own: the last admin cannot lock everyone out."""
    return actor_role == "admin" and actor_id != target_id


# Auth's own refusals; the platform's (codex_platform.errors) carry the status each answers with.
class InvalidCredentials(NotAuthenticated):
    """Wrong password, unknown email and unconfirmed address are this one error, so that none
    reveals whether an account exists (nor that a sign-up just created one)."""

    def __init__(self) -> None:
        super().__init__(
            "The email address or password is incorrect, or the address is not confirmed yet "
            "(open the link we mailed)"
        )


class AccountLocked(RateLimited):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s, "Too many failed logins for this account; try again later")


class InvalidToken(DomainError):
    """Unknown, expired and already used tokens look the same from outside."""

    problem_type = "urn:codex:problem:invalid-token"

    def __init__(self) -> None:
        super().__init__("This link is invalid or has expired; request a new one")


class WrongPassword(DomainError):
    problem_type = "urn:codex:problem:wrong-password"

    def __init__(self) -> None:
        super().__init__("The current password is incorrect")
