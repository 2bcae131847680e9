"""The objects in the shapes Stripe's API returns and the SDK parses (https://docs.stripe.com/api):
`payment_intent`, `charge`, `refund`, `dispute`, `event`, and list envelopes."""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

__all__ = ["charge", "dispute", "event", "list_of", "new_id", "payment_intent", "refund"]

_ALPHABET = string.ascii_letters + string.digits

# Stripe's test payment methods (https://docs.stripe.com/testing#cards): what a confirmation does.
TEST_CARDS: dict[str, dict[str, Any]] = {
    "pm_card_visa": {"brand": "visa", "last4": "4242", "declines": False},
    "pm_card_mastercard": {"brand": "mastercard", "last4": "4444", "declines": False},
    "pm_card_chargeDeclined": {"brand": "visa", "last4": "0002", "declines": True},
}


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now() -> int:
    return int(time.time())


def payment_intent(amount: int, currency: str, metadata: dict[str, str], **fields: Any) -> dict[str, Any]:
    intent_id = new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{intent_id}_secret_{new_id('', 25)[1:]}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": None,
        "description": fields.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": metadata,
        "next_action": None,
        "payment_method": None,
        "payment_method_types": fields.get("payment_method_types") or ["card"],
        "receipt_email": fields.get("receipt_email"),
        "status": "requires_payment_method",
    }


def payment_method(pm_id: str) -> dict[str, Any]:
    card = TEST_CARDS[pm_id]
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "card": {"brand": card["brand"], "last4": card["last4"], "exp_month": 12, "exp_year": 2034},
        "livemode": False,
    }


def charge(intent: dict[str, Any], pm_id: str, *, succeeded: bool) -> dict[str, Any]:
    card = TEST_CARDS[pm_id]
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"] if succeeded else 0,
        "amount_refunded": 0,
        "balance_transaction": new_id("txn") if succeeded else None,
        "captured": succeeded,
        "created": now(),
        "currency": intent["currency"],
        "description": intent["description"],
        "disputed": False,
        "failure_code": None if succeeded else "card_declined",
        "failure_message": None if succeeded else "Your card was declined.",
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "outcome": {
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "reason": None if succeeded else "generic_decline",
            "risk_level": "normal",
            "seller_message": "Payment complete."
            if succeeded
            else "The bank did not return any further details.",
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "paid": succeeded,
        "payment_intent": intent["id"],
        "payment_method": pm_id,
        "payment_method_details": {
            "type": "card",
            "card": {"brand": card["brand"], "last4": card["last4"], "exp_month": 12, "exp_year": 2034},
        },
        "receipt_email": intent["receipt_email"],
        "refunded": False,
        "status": "succeeded" if succeeded else "failed",
    }


def refund(of: dict[str, Any], amount: int, reason: str | None, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "charge": of["id"],
        "created": now(),
        "currency": of["currency"],
        "metadata": metadata,
        "payment_intent": of["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "status": "succeeded",
    }


def dispute(of: dict[str, Any], reason: str) -> dict[str, Any]:
    return {
        "id": new_id("dp"),
        "object": "dispute",
        "amount": of["amount"],
        "balance_transactions": [],
        "charge": of["id"],
        "created": now(),
        "currency": of["currency"],
        "evidence": {},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": of["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }


def event(
    type: str, obj: dict[str, Any], api_version: str, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": now(),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def list_of(items: list[dict[str, Any]], url: str, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": has_more, "url": url}
