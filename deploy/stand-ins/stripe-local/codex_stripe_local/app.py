"""create_app(): the local Stripe stand-in, built with the platform's app factory; nothing but assembly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from codex_platform.http import create_app as create_platform_app
from codex_platform.http.problems import problem_response
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


def unrecognized_url(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Stripe's answer to a route it does not have (under /v1); elsewhere the platform's problem details."""
    if not request.url.path.startswith("/v1/"):
        status = 405 if isinstance(exc, MethodNotAllowedException) else 404
        return problem_response(request, status, detail=str(getattr(exc, "detail", "")) or None)
    message = (
        f"Unrecognized request URL ({request.method}: {request.url.path}). "
        "Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
    )
    return Response({"error": {"type": "invalid_request_error", "message": message}}, status_code=404)


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
        exception_handlers={NotFoundException: unrecognized_url, MethodNotAllowedException: unrecognized_url},
        state={"settings": settings, "ledger": ledger, "sender": sender, "faults": faults},
    )
