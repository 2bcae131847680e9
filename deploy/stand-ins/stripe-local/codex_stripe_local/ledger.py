"""The account's state in memory and how Stripe moves it: PaymentIntents confirmed with the test
payment methods, charges, refunds and disputes; every change recorded as an event (a snapshot of the
object, as Stripe's webhooks carry) and handed to `publish`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from codex_stripe_local import objects
from codex_stripe_local.errors import card_declined, invalid, missing, unexpected_state
from codex_stripe_local.params import (
    amount_param,
    currency_param,
    expand_param,
    flag_param,
    integer,
    metadata_param,
    no_unknown,
    optional_str,
)

__all__ = ["Ledger"]

Obj = dict[str, Any]

_CREATE = {
    "amount", "currency", "metadata", "payment_method", "confirm", "description", "receipt_email",
    "automatic_payment_methods", "payment_method_types", "allowed_payment_method_types", "capture_method",
    "expand",
}  # fmt: skip
_CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


class Ledger:
    def __init__(self, api_version: str, publish: Callable[[Obj], None] = lambda event: None) -> None:
        self.api_version = api_version
        self.publish = publish
        self.intents: dict[str, Obj] = {}
        self.charges: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.disputes: dict[str, Obj] = {}
        self.events: dict[str, Obj] = {}

    def _emit(self, type: str, obj: Obj, previous: Obj | None = None) -> None:
        event = objects.event(type, copy.deepcopy(obj), self.api_version, previous)
        self.events[event["id"]] = event
        self.publish(event)

    def _expanded(self, intent: Obj, expand: list[str]) -> Obj:
        shown = copy.deepcopy(intent)
        if "latest_charge" in expand and intent["latest_charge"]:
            shown["latest_charge"] = copy.deepcopy(self.charges[intent["latest_charge"]])
        return shown

    # PaymentIntents

    def create_intent(self, params: Obj) -> Obj:
        no_unknown(params, _CREATE)
        currency = currency_param(params)
        amount = amount_param(params, currency)
        assert amount is not None
        if params.get("capture_method", "automatic") not in ("automatic", "automatic_async"):
            raise invalid("Only automatic capture is supported here", param="capture_method")
        types = params.get("allowed_payment_method_types") or params.get("payment_method_types")
        intent = objects.payment_intent(
            amount,
            currency,
            metadata_param(params),
            description=optional_str(params, "description"),
            receipt_email=optional_str(params, "receipt_email"),
            payment_method_types=types if isinstance(types, list) else None,
        )
        expand = expand_param(params, ["latest_charge"])
        automatic = params.get("automatic_payment_methods")
        if isinstance(automatic, dict) and flag_param(automatic, "enabled"):
            redirects = automatic.get("allow_redirects", "always")
            if redirects not in ("always", "never"):
                raise invalid("Invalid allow_redirects", param="automatic_payment_methods[allow_redirects]")
            intent["automatic_payment_methods"] = {"enabled": True, "allow_redirects": redirects}
        self.intents[intent["id"]] = intent
        self._emit("payment_intent.created", intent)
        if flag_param(params, "confirm"):
            return self.confirm_intent(intent["id"], {"payment_method": params.get("payment_method")})
        if params.get("payment_method"):
            intent["payment_method"] = self._payment_method(params)
            intent["status"] = "requires_confirmation"
        return self._expanded(intent, expand)

    def intent(self, intent_id: str, params: Obj | None = None) -> Obj:
        params = params or {}
        no_unknown(params, {"expand", "client_secret"})
        intent = self.intents.get(intent_id)
        if intent is None:
            raise missing("payment_intent", intent_id, param="intent")
        return self._expanded(intent, expand_param(params, ["latest_charge"]))

    def _payment_method(self, params: Obj) -> str:
        pm_id = params.get("payment_method")
        if not isinstance(pm_id, str) or pm_id not in objects.TEST_CARDS:
            raise missing("PaymentMethod", str(pm_id), param="payment_method")
        return pm_id

    def confirm_intent(self, intent_id: str, params: Obj) -> Obj:
        no_unknown(params, {"payment_method", "expand", "client_secret", "return_url", "receipt_email"})
        intent = self.intents.get(intent_id)
        if intent is None:
            raise missing("payment_intent", intent_id, param="intent")
        if intent["status"] not in _CONFIRMABLE:
            raise unexpected_state(
                f"This PaymentIntent's payment_method could not be updated because it has a status of "
                f"{intent['status']}. You may only update the payment_method of a PaymentIntent with one of "
                "the following statuses: requires_payment_method, requires_confirmation, requires_action.",
                copy.deepcopy(intent),
            )
        if params.get("payment_method") is None and intent["payment_method"] is None:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        pm_id = self._payment_method(params) if params.get("payment_method") else intent["payment_method"]
        intent["payment_method"] = pm_id
        declines = objects.TEST_CARDS[pm_id]["declines"]
        charge = objects.charge(intent, pm_id, succeeded=not declines)
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        if declines:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "charge": charge["id"],
                "payment_method": objects.payment_method(pm_id),
            }
            self._emit("charge.failed", charge)
            self._emit("payment_intent.payment_failed", intent)
            raise card_declined(copy.deepcopy(intent), charge["id"], objects.payment_method(pm_id))
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["last_payment_error"] = None
        self._emit("charge.succeeded", charge)
        self._emit("payment_intent.succeeded", intent)
        return self._expanded(intent, expand_param(params, ["latest_charge"]))

    def cancel_intent(self, intent_id: str, params: Obj) -> Obj:
        no_unknown(params, {"cancellation_reason", "expand"})
        intent = self.intents.get(intent_id)
        if intent is None:
            raise missing("payment_intent", intent_id, param="intent")
        if intent["status"] not in _CANCELABLE:
            raise unexpected_state(
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}. "
                f"Only a PaymentIntent with one of the following statuses may be canceled: "
                f"{', '.join(_CANCELABLE)}.",
                copy.deepcopy(intent),
            )
        reason = optional_str(params, "cancellation_reason")
        if reason is not None and reason not in _CANCEL_REASONS:
            raise invalid(f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
        intent["status"] = "canceled"
        intent["canceled_at"] = objects.now()
        intent["cancellation_reason"] = reason
        self._emit("payment_intent.canceled", intent)
        return self._expanded(intent, expand_param(params, ["latest_charge"]))

    # Charges, refunds, disputes

    def charge(self, charge_id: str) -> Obj:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise missing("charge", charge_id, param="charge")
        return copy.deepcopy(charge)

    def _succeeded_charge(self, params: Obj) -> Obj:
        if params.get("charge"):
            charge = self.charges.get(str(params["charge"]))
            if charge is None:
                raise missing("charge", str(params["charge"]), param="charge")
        elif params.get("payment_intent"):
            intent = self.intents.get(str(params["payment_intent"]))
            if intent is None:
                raise missing("payment_intent", str(params["payment_intent"]), param="payment_intent")
            if intent["status"] != "succeeded":
                raise invalid(
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                    param="payment_intent",
                )
            charge = self.charges[intent["latest_charge"]]
        else:
            raise invalid("Must provide either charge or payment_intent.")
        if charge["status"] != "succeeded":
            raise invalid(f"Charge {charge['id']} has not succeeded.", param="charge")
        return charge

    def create_refund(self, params: Obj) -> Obj:
        no_unknown(params, {"charge", "payment_intent", "amount", "reason", "metadata", "expand"})
        charge = self._succeeded_charge(params)
        if charge["refunded"]:
            raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        if charge["disputed"]:
            raise invalid(f"Charge {charge['id']} has been charged back.", code="charge_disputed")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = amount_param(params, "", required=False) or remaining
        if amount > remaining:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                param="amount",
                code="amount_too_large",
            )
        reason = optional_str(params, "reason")
        if reason is not None and reason not in _REFUND_REASONS:
            raise invalid(f"Invalid reason: must be one of {', '.join(_REFUND_REASONS)}", param="reason")
        refund = objects.refund(charge, amount, reason, metadata_param(params))
        self.refunds[refund["id"]] = refund
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self._emit("refund.created", refund)
        self._emit("charge.refunded", charge, previous)
        return copy.deepcopy(refund)

    def refund(self, refund_id: str) -> Obj:
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise missing("refund", refund_id, param="refund")
        return copy.deepcopy(refund)

    def create_dispute(self, params: Obj) -> Obj:
        """Not an API route at Stripe (a cardholder opens a dispute): the stand-in's admin switch."""
        charge = self._succeeded_charge(params)
        dispute = objects.dispute(charge, str(params.get("reason") or "fraudulent"))
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        self._emit("charge.dispute.created", dispute)
        return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, status: str) -> Obj:
        """The bank's decision (admin switch): `won` or `lost`."""
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise missing("dispute", dispute_id, param="dispute")
        if status not in ("won", "lost"):
            raise invalid("status must be won or lost", param="status")
        if dispute["status"] in ("won", "lost"):
            raise invalid(f"Dispute {dispute_id} is already closed.", code="dispute_already_closed")
        previous = {"status": dispute["status"]}
        dispute["status"] = status
        self._emit("charge.dispute.closed", dispute, previous)
        return copy.deepcopy(dispute)

    def dispute(self, dispute_id: str) -> Obj:
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise missing("dispute", dispute_id, param="dispute")
        return copy.deepcopy(dispute)

    def list_disputes(self, params: Obj) -> Obj:
        no_unknown(
            params, {"charge", "payment_intent", "limit", "starting_after", "ending_before", "created"}
        )
        limit = integer(params, "limit") or 10
        if not 1 <= limit <= 100:
            raise invalid("Limit must be between 1 and 100", param="limit")
        found = [
            d
            for d in sorted(self.disputes.values(), key=lambda d: (d["created"], d["id"]), reverse=True)
            if params.get("charge") in (None, d["charge"])
            and params.get("payment_intent") in (None, d["payment_intent"])
        ]
        return objects.list_of(copy.deepcopy(found[:limit]), "/v1/disputes", has_more=len(found) > limit)

    def event(self, event_id: str) -> Obj:
        event = self.events.get(event_id)
        if event is None:
            raise missing("event", event_id, param="id")
        return copy.deepcopy(event)
