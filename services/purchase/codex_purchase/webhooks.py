"""Stripe's webhook (https://docs.stripe.com/webhooks): the signature verified on the raw body, the event
stored by id (a redelivery is a no-op), a 2xx at once, and then the PaymentIntent re-read from Stripe
and its purchase settled (settlement.py) instead of trusting the event's snapshot or its order of
arrival. An event whose settling fails stays stored unapplied, and the worker applies it later."""

from __future__ import annotations

import structlog

from codex_purchase.deps import Deps
from codex_purchase.gateway import WebhookEvent
from codex_purchase.repository import Repository
from codex_purchase.settlement import settle_intent

__all__ = ["HANDLED", "apply_event", "concerns_a_payment", "receive_event"]

_log = structlog.stdlib.get_logger("codex_purchase.webhooks")

# The events that can change a purchase; every other type is acknowledged and ignored.
HANDLED = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
        "charge.dispute.funds_withdrawn",
    }
)


def concerns_a_payment(event: WebhookEvent) -> bool:
    return event.type in HANDLED and event.payment_intent_id is not None


async def receive_event(deps: Deps, event: WebhookEvent) -> bool:
    """Store a verified event (one that changes nothing is stored as applied); False for a redelivery."""
    async with deps.pool.acquire() as conn:
        fresh = await Repository(conn).store_event(
            event.id, event.type, event.payment_intent_id, processed=not concerns_a_payment(event)
        )
    if not fresh:
        _log.info("stripe_event_duplicate", event_id=event.id, event_type=event.type)
    return fresh


async def apply_event(deps: Deps, event_id: str, intent_id: str) -> bool:
    """Settle the event's purchase from Stripe and mark the event applied; False (logged) on failure."""
    try:
        await settle_intent(deps, intent_id)
    except Exception as exc:
        _log.warning("stripe_event_not_applied", event_id=event_id, error_type=type(exc).__name__)
        return False
    async with deps.pool.acquire() as conn:
        await Repository(conn).mark_processed(event_id)
    return True
