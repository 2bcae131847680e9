"""Stripe, through its official SDK's async client: PaymentIntents created with the purchase id as
idempotency key, the payment's current state read back (intent, latest charge, disputes), and webhook
signatures verified on the raw body. `STRIPE_API_BASE` is the SDK's documented `base_addresses["api"]`,
so the same code talks to Stripe, the local stand-in, or any Stripe-compatible server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from codex_platform.errors import Conflict, InvalidInput, Unavailable
from codex_purchase.domain import DisputeState, Payment
from codex_purchase.settings import PurchaseSettings

__all__ = ["CreatedIntent", "PaymentRefused", "StripeGateway", "WebhookEvent", "WebhookRejected"]


class PaymentRefused(Conflict):
    """Stripe refused to create the payment (an amount or currency it does not take)."""


class WebhookRejected(InvalidInput):
    """A webhook whose signature, timestamp or body does not verify."""

    def __init__(self, message: str) -> None:
        super().__init__("Stripe-Signature", message, source="header")


@dataclass(frozen=True)
class CreatedIntent:
    id: str
    client_secret: str


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    payment_intent_id: str | None  # the PaymentIntent the event is about, where it is about one


def _intent_of(obj: dict[str, Any]) -> str | None:
    """PaymentIntent events carry the intent; charge, refund and dispute events name it."""
    if obj.get("object") == "payment_intent":
        return str(obj["id"])
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return str(intent) if intent else None


def _dispute_state(disputes: list[Any]) -> DisputeState:
    """The latest dispute decides: open until Stripe closes it won or lost."""
    if not disputes:
        return "none"
    status = max(disputes, key=lambda d: (d.created, d.id)).status
    if status == "won":
        return "won"
    if status == "lost":
        return "lost"
    return "open"  # needs_response, under_review, warning_* : the money is held


class StripeGateway:
    def __init__(self, settings: PurchaseSettings, http_client: stripe.HTTPClient | None = None) -> None:
        self._http = http_client or stripe.HTTPXClient(timeout=settings.stripe_timeout_s)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=self._http,
            max_network_retries=settings.stripe_max_network_retries,
        )
        self._webhook_secret = settings.stripe_webhook_secret
        self._tolerance_s = settings.webhook_tolerance_s

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_intent(
        self, *, purchase_id: str, amount: int, currency: str, metadata: dict[str, str]
    ) -> CreatedIntent:
        """The purchase's PaymentIntent; the same purchase id always yields the same intent (Stripe
        replays the first answer to an idempotency key for 24 hours)."""
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount,
                    "currency": currency,
                    "metadata": metadata,
                    # Only methods that confirm in the page: none that redirects the customer away
                    # (those need a return_url, and the frontend polls this page for the result).
                    "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
                },
                options={"idempotency_key": f"purchase-{purchase_id}"},
            )
        except stripe.InvalidRequestError as exc:
            raise PaymentRefused(f"Stripe refused the payment: {exc.user_message or exc.code}") from None
        except stripe.StripeError as exc:
            raise Unavailable(f"Stripe is unavailable ({type(exc).__name__}); try again shortly") from None
        assert intent.client_secret is not None
        return CreatedIntent(intent.id, intent.client_secret)

    async def cancel_intent(self, intent_id: str) -> None:
        """Cancel an intent nobody will pay; one that has meanwhile succeeded or ended stays as it is."""
        try:
            await self.client.v1.payment_intents.cancel_async(
                intent_id, params={"cancellation_reason": "abandoned"}
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise

    async def payment(self, intent_id: str) -> Payment:
        """The payment as Stripe has it now (raises stripe.StripeError when Stripe cannot say)."""
        intent = await self.client.v1.payment_intents.retrieve_async(
            intent_id, params={"expand": ["latest_charge"]}
        )
        charge = intent.latest_charge
        if isinstance(charge, str):
            charge = await self.client.v1.charges.retrieve_async(charge)
        dispute: DisputeState = "none"
        if charge is not None and charge.disputed:
            found = await self.client.v1.disputes.list_async(
                params={"payment_intent": intent_id, "limit": 10}
            )
            dispute = _dispute_state(list(found.data))
        succeeded = charge is not None and charge.status == "succeeded"
        return Payment(
            intent_id=intent.id,
            intent_status=intent.status,
            declined=intent.last_payment_error is not None,
            purchase_id=(intent.to_dict().get("metadata") or {}).get("purchase_id"),
            client_secret=intent.client_secret,
            amount_refunded=charge.amount_refunded if charge is not None and succeeded else 0,
            fully_refunded=bool(succeeded and charge is not None and charge.refunded),
            dispute=dispute,
        )

    def verify(self, payload: bytes, signature: str | None) -> WebhookEvent:
        """The event of a webhook whose `Stripe-Signature` verifies on the raw body within the tolerance."""
        try:
            event = self.client.construct_event(payload, signature, self._webhook_secret, self._tolerance_s)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(f"The signature does not verify: {exc.user_message}") from None
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected("The body is not a Stripe event") from None
        obj = event.data.object.to_dict()
        return WebhookEvent(id=event.id, type=event.type, payment_intent_id=_intent_of(obj))
