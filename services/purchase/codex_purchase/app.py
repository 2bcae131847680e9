"""create_app(): the purchase service, one call of the platform's service app."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from codex_platform.service import service_app
from codex_purchase.bootstrap import bootstrap
from codex_purchase.http import ROUTES
from codex_purchase.settings import PurchaseSettings

DESCRIPTION = """Purchases of content with Stripe PaymentIntents: start one, poll its status, list yours;
Stripe's webhook (signed, deduplicated, applied from Stripe's current state)."""


def create_app(settings: PurchaseSettings | None = None, **overrides: Any) -> Litestar:
    return service_app(
        settings or PurchaseSettings.load(), bootstrap, ROUTES, overrides=overrides, description=DESCRIPTION
    )
