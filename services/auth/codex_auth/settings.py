"""The auth service's settings: `CODEX_AUTH_<NAME>` or the conventional `<NAME>`, with local defaults."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from codex_platform.ratelimit import Limit
from codex_platform.service import ServiceSettings
from codex_platform.settings import Port

# Known to everyone who reads this file, so it can only ever protect a developer's own machine.
DEVELOPMENT_SECRET = "codex-development-secret-do-not-use-in-production"  # noqa: S105

RateSpec = Annotated[
    str, msgspec.Meta(pattern=r"^[1-9][0-9]*/[0-9]+(\.[0-9]+)?$", description="COUNT/SECONDS")
]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class AuthSettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "auth"
    # A public secret, and reset links written to a folder: said at start-up when still in effect.
    development_fields: ClassVar[tuple[str, ...]] = ("auth_secret", "resend_api_key")
    port: Port = 8001

    auth_secret: str = DEVELOPMENT_SECRET
    """Seals the private signing keys at rest (AUTH_SECRET); required in production."""
    access_token_ttl_s: Positive = 15 * 60
    key_cache_ttl_s: Positive = 30
    """How long a replica signs with and publishes the key ring it read, before reading it again."""

    session_ttl_s: Positive = 7 * 24 * 3600
    session_extend_after_s: Positive = 24 * 3600
    one_time_token_ttl_s: Positive = 3600

    signup_limit: RateSpec = "3/10"
    login_limit: RateSpec = "3/10"
    mail_limit: RateSpec = "3/60"
    login_lock_threshold: Positive = 10
    login_lock_s: Positive = 15 * 60

    argon2_time_cost: Positive = 3
    argon2_memory_kib: Annotated[int, msgspec.Meta(ge=8)] = 64 * 1024
    argon2_parallelism: Positive = 4
    hash_concurrency: Positive | None = None
    """Hashes computed at once (each holds argon2_memory_kib); default: one per CPU this process may use."""
    hash_queue_limit: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Hashes that may wait for a thread before logins are refused with 503 (default: 16 per thread)."""

    require_email_verification: bool = True
    """Login needs a confirmed address, so that nobody uses an account for an address they do not
    control; `make dev` may turn it off (CODEX_AUTH_REQUIRE_EMAIL_VERIFICATION=false)."""

    resend_api_key: str | None = None
    mail_from: str = "Codex <no-reply@codex.localhost>"
    mail_folder: str = ".dev/mail"
    app_url: str = "http://localhost:8080"
    """Where the frontend serves /verify-email and /reset-password, for the links in mails."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.environment == "production" and self.auth_secret == DEVELOPMENT_SECRET:
            raise ValueError("AUTH_SECRET must be set in production")
        if len(self.auth_secret) < 32:
            raise ValueError("AUTH_SECRET must have at least 32 characters")

    @property
    def secure_cookies(self) -> bool:
        return self.environment != "development"


def rate(spec: str) -> Limit:
    count, _, seconds = spec.partition("/")
    return Limit(int(count), float(seconds))


SERVICE = AuthSettings.service
PREFIX = AuthSettings.env_prefix()


def load() -> AuthSettings:
    return AuthSettings.load()
