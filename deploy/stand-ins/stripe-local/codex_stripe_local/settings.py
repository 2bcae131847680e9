"""Settings of the local Stripe stand-in: CODEX_STRIPE_LOCAL_<NAME>, then <NAME> (see
codex_platform.settings). The keys default to fixed test keys, and STRIPE_SECRET_KEY /
STRIPE_WEBHOOK_SECRET (what the purchase service reads) are the fallback, so one set of variables
configures both ends in `make dev`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import msgspec

from codex_platform.settings import BaseSettings, Port, load_settings

PREFIX = "CODEX_STRIPE_LOCAL_"

# Known to everyone who reads this file: the stand-in never runs in production (see __post_init__).
DEFAULT_SECRET_KEY = "sk_test_codex_local"  # noqa: S105
DEFAULT_PUBLISHABLE_KEY = "pk_test_codex_local"
DEFAULT_WEBHOOK_SECRET = "whsec_codex_local_development_secret"  # noqa: S105

# The fallbacks: the conventional names the purchase service reads for the same values.
_CONVENTIONAL = {
    "secret_key": "STRIPE_SECRET_KEY",
    "publishable_key": "STRIPE_PUBLISHABLE_KEY",
    "webhook_secret": "STRIPE_WEBHOOK_SECRET",
}


class Settings(BaseSettings, frozen=True, kw_only=True):
    port: Port = 8011
    # A browser confirms payments here with the publishable key, as Stripe.js does with Stripe (which
    # answers any origin): the gateway's origin in development.
    cors_origins: list[str] = msgspec.field(
        default_factory=lambda: ["http://localhost:8080", "http://127.0.0.1:8080"]
    )
    secret_key: str = DEFAULT_SECRET_KEY
    publishable_key: str = DEFAULT_PUBLISHABLE_KEY
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    webhook_url: str = "http://127.0.0.1:8005/webhooks/stripe"
    """Where events are POSTed (the purchase service's /webhooks/stripe); empty: nowhere."""
    api_version: str = "2026-10-28.endive"
    """Stamped on events; the SDK sends its own pinned version, which is what it parses."""

    # Stripe retries a failed delivery for up to three days with exponential back-off; locally the
    # same shape, shorter: `webhook_attempts` in all, the first retry after `webhook_retry_s`.
    webhook_attempts: int = 4
    webhook_retry_s: float = 2.0
    webhook_timeout_s: float = 10.0
    # An event held back to arrive out of order goes out after the next one, or after this long.
    reorder_hold_s: float = 2.0
    idempotency_ttl_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.environment == "production":
            raise ValueError("stripe-local is a development stand-in and refuses to run in production")
        if not self.secret_key.startswith("sk_"):
            raise ValueError("SECRET_KEY must look like a Stripe secret key (sk_...)")
        if not self.webhook_secret.startswith("whsec_"):
            raise ValueError("WEBHOOK_SECRET must look like a Stripe signing secret (whsec_...)")

    def with_overrides(self, **changes: Any) -> Settings:
        return msgspec.structs.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        for field, conventional in _CONVENTIONAL.items():
            own = PREFIX + field.upper()
            if own not in env and field.upper() not in env and env.get(conventional):
                env[own] = env[conventional]
        return load_settings(cls, PREFIX, env)
