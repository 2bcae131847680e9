"""The purchase service's settings: `CODEX_PURCHASE_<NAME>`, then the conventional `<NAME>`
(`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_PUBLISHABLE_KEY`, `STRIPE_API_BASE`)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from codex_platform.service import ServiceSettings
from codex_platform.settings import Port, Url

Positive = Annotated[float, msgspec.Meta(gt=0)]

# The stand-in's fixed test keys (deploy/stand-ins/stripe-local), so that `make dev` works without
# configuration; production refuses them (see __post_init__).
LOCAL_SECRET_KEY = "sk_test_codex_local"  # noqa: S105
LOCAL_PUBLISHABLE_KEY = "pk_test_codex_local"
LOCAL_WEBHOOK_SECRET = "whsec_codex_local_development_secret"  # noqa: S105


class PurchaseSettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "purchase"
    port: Port = 8005

    stripe_secret_key: str = LOCAL_SECRET_KEY
    stripe_publishable_key: str = LOCAL_PUBLISHABLE_KEY
    stripe_webhook_secret: str = LOCAL_WEBHOOK_SECRET
    stripe_api_base: Url = "https://api.stripe.com"
    """Stripe itself, the local stand-in, or any Stripe-compatible server: the SDK's base address."""
    stripe_timeout_s: Positive = 10.0
    stripe_max_network_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    webhook_tolerance_s: Annotated[int, msgspec.Meta(ge=1)] = 300
    """How old a signed webhook may be (Stripe's SDK default, against replays)."""

    reconcile_after_s: Positive = 300.0
    """A purchase pending this long is settled from its PaymentIntent's state (the webhook is late)."""
    reconcile_interval_s: Positive = 30.0
    abandon_after_s: Positive = 24 * 3600.0
    """A purchase still unpaid this long is given up: its PaymentIntent canceled at Stripe (Stripe
    advises canceling intents that will not be used), the purchase canceled."""
    event_retry_after_s: Positive = 30.0
    """A stored webhook event not yet applied after this long is applied by the worker."""

    resend_api_key: str | None = None
    mail_from: str = "Codex <receipts@codex.localhost>"
    mail_folder: str = ".dev/mail"
    app_url: str = "http://localhost:8080"

    def __post_init__(self) -> None:
        super().__post_init__()
        local = (LOCAL_SECRET_KEY, LOCAL_WEBHOOK_SECRET)
        if self.environment == "production" and (
            self.stripe_secret_key in local or self.stripe_webhook_secret in local
        ):
            raise ValueError("STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set in production")
