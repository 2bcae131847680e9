"""The purchase service against the Stripe stand-in: real Postgres (own schema), both served by real
uvicorn servers, receipts written to a temp folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from codex_stripe_local.app import create_app as create_stripe_local
from codex_stripe_local.settings import Settings as StripeLocalSettings
from purchase_harness import PurchaseHarness, StripeLocal

from codex_platform.db import migrate
from codex_platform.testing import TokenIssuer, serve
from codex_purchase.app import create_app
from codex_purchase.cli import CLI
from codex_purchase.settings import PurchaseSettings


@pytest.fixture
async def stripe_local() -> AsyncIterator[StripeLocal]:
    # Its webhook endpoint is set once the purchase service has a port.
    settings = StripeLocalSettings(
        environment="test", webhook_url="", webhook_retry_s=0.2, reorder_hold_s=1.0
    )
    app = create_stripe_local(settings)
    async with serve(app) as url:
        local = StripeLocal(url, app, settings)
        try:
            yield local
        finally:
            await local.aclose()


@pytest.fixture
async def migrated(database_url: str, pg_schema: str) -> str:
    await migrate(database_url, schema=pg_schema, sources=list(CLI.migrations))
    return pg_schema


@pytest.fixture
def purchase_settings_factory(
    database_url: str, amqp_url: str, migrated: str, queue_prefix: str, token_issuer: TokenIssuer,
    stripe_local: StripeLocal, tmp_path: Path,
) -> Callable[..., PurchaseSettings]:  # fmt: skip
    def make(**overrides: Any) -> PurchaseSettings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database_url,
            "amqp_url": amqp_url,
            "db_schema": migrated,
            "bus_prefix": queue_prefix,
            "jwks_url": token_issuer.jwks_url,
            "stripe_api_base": stripe_local.url,
            "stripe_secret_key": stripe_local.settings.secret_key,
            "stripe_publishable_key": stripe_local.settings.publishable_key,
            "stripe_webhook_secret": stripe_local.settings.webhook_secret,
            "mail_folder": str(tmp_path / "mail"),
            **overrides,
        }
        return PurchaseSettings(**values)

    return make


@pytest.fixture
async def purchase(
    purchase_settings_factory: Callable[..., PurchaseSettings],
    stripe_local: StripeLocal,
    token_issuer: TokenIssuer,
) -> AsyncIterator[PurchaseHarness]:
    settings = purchase_settings_factory()
    app = create_app(settings)
    async with serve(app) as url:
        await stripe_local.admin("POST", "/webhook-endpoint", {"url": f"{url}/webhooks/stripe"})
        harness = PurchaseHarness(url, app, stripe_local, token_issuer, Path(settings.mail_folder))
        try:
            yield harness
        finally:
            await harness.aclose()
