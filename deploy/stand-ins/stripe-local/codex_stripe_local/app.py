"""create_app(): the local Stripe stand-in, built with the platform's app factory; nothing but assembly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide

from codex_platform.http import create_app as create_platform_app
from codex_stripe_local.faults import Faults
from codex_stripe_local.http import ApiController
from codex_stripe_local.http_admin import AdminController
from codex_stripe_local.idempotency import IdempotencyKeys
from codex_stripe_local.ledger import Ledger
from codex_stripe_local.settings import Settings
from codex_stripe_local.webhooks import WebhookSender

DESCRIPTION = """A local stand-in for the part of Stripe's API the purchase service uses (PaymentIntents,
charges, refunds, disputes, events), in Stripe's shapes and form encoding, with idempotency keys,
Stripe's test payment methods, signed webhooks and fault switches under /_admin. State is in memory.
Never for production."""


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    faults = Faults()
    sender = WebhookSender(settings, faults)
    ledger = Ledger(settings.api_version, publish=sender.publish)
    keys = IdempotencyKeys(settings.idempotency_ttl_s)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await sender.start()
        try:
            yield
        finally:
            await sender.close()

    def provide(value: object) -> Provide:
        return Provide(lambda: value, sync_to_thread=False)

    return create_platform_app(
        service="stripe-local",
        description=DESCRIPTION,
        route_handlers=[ApiController, AdminController],
        # A page confirms a PaymentIntent from the browser, as with Stripe.js (api.stripe.com allows CORS):
        # the frontend's origins (CORS_ORIGINS, as for the services) may call the API.
        cors_origins=settings.cors_origins,
        dependencies={
            "ledger": provide(ledger),
            "settings": provide(settings),
            "keys": provide(keys),
            "faults": provide(faults),
            "sender": provide(sender),
        },
        lifespan=[lifespan],
        state={"settings": settings, "ledger": ledger, "sender": sender, "faults": faults},
    )
