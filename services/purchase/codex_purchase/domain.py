"""Purchases and the rules that move them, from what Stripe says about the payment (no I/O here).

A purchase's status follows its PaymentIntent as Stripe reports it *now*, never the order in which
webhooks arrived (Stripe guarantees no order, and delivers some events more than once):

    pending ──► completed ──► refunded            (full refund; terminal: nothing re-grants)
       │  ▲         │  ▲
       │  └─ failed │  └── disputed ──► completed (dispute won: access back, a new completion)
       └──► canceled ▼
                 disputed

Access follows `completed`: entering it emits purchase.completed.v1, leaving it (full refund, dispute)
emits purchase.refunded.v1. A partial refund is recorded and keeps access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codex_platform.errors import Conflict, NotFound

__all__ = [
    "AlreadyOwned",
    "ContentNotForSale",
    "DisputeState",
    "Payment",
    "PurchaseNotFound",
    "Status",
    "Transition",
    "check_for_sale",
    "observed_status",
    "transition",
]

Status = Literal["pending", "completed", "failed", "canceled", "refunded", "disputed"]
DisputeState = Literal["none", "open", "won", "lost"]


class PurchaseNotFound(NotFound):
    """No such purchase for this caller (another customer's purchase is not found either)."""


class ContentNotForSale(Conflict):
    """The content is unknown, free, unpublished or archived."""


class AlreadyOwned(Conflict):
    """The caller already has access to the content."""


@dataclass(frozen=True)
class Price:
    content_id: str
    creator_id: str
    price_cents: int
    currency: str
    status: str


def check_for_sale(price: Price | None, *, buyer_id: str, owned: bool) -> Price:
    """The price to charge, or why the content cannot be bought."""
    if price is None:
        raise ContentNotForSale("This content is not for sale (unknown content)")
    if price.status == "archived":
        raise ContentNotForSale("This content is archived and no longer for sale")
    if price.status != "published":
        raise ContentNotForSale("This content is not published")
    if price.price_cents <= 0:
        raise ContentNotForSale("This content is free: there is nothing to buy")
    if owned or price.creator_id == buyer_id:
        raise AlreadyOwned("You already have access to this content")
    return price


@dataclass(frozen=True)
class Payment:
    """What Stripe says now about a PaymentIntent, its latest charge and that charge's disputes."""

    intent_id: str
    intent_status: str
    declined: bool  # the last attempt failed (last_payment_error set)
    purchase_id: str | None = None  # from the intent's metadata
    client_secret: str | None = None
    amount_refunded: int = 0
    fully_refunded: bool = False
    dispute: DisputeState = "none"


def observed_status(payment: Payment) -> Status | None:
    """The status the payment implies; None while the customer has not finished paying."""
    if payment.intent_status == "canceled":
        return "canceled"
    if payment.intent_status == "succeeded":
        if payment.dispute in ("open", "lost"):
            return "disputed"
        if payment.fully_refunded:
            return "refunded"
        return "completed"
    if payment.declined and payment.intent_status == "requires_payment_method":
        return "failed"
    return None


@dataclass(frozen=True)
class Transition:
    status: Status
    grants: bool = False  # emit purchase.completed.v1
    revokes: bool = False  # emit purchase.refunded.v1
    receipt: bool = False  # first completion: mail a receipt


# Where a purchase may go from each status; anything else is a no-op (a stale or repeated report).
_ALLOWED: dict[Status, set[Status]] = {
    "pending": {"completed", "failed", "canceled", "refunded", "disputed"},
    "failed": {"completed", "canceled", "refunded", "disputed"},  # the customer may pay again
    "completed": {"refunded", "disputed"},
    "disputed": {"completed", "refunded"},  # completed again: the dispute was won
    "canceled": set(),
    "refunded": set(),  # terminal: a late `succeeded` never grants again
}


def transition(current: Status, payment: Payment) -> Transition | None:
    """The change `payment` implies for a purchase in `current`, or None."""
    target = observed_status(payment)
    if target is None or target == current or target not in _ALLOWED[current]:
        return None
    if target == "completed":
        return Transition("completed", grants=True, receipt=current in ("pending", "failed"))
    return Transition(target, revokes=current == "completed")
