"""Settling a purchase from Stripe's current state of its PaymentIntent: the one path the webhook, the
stored-event retry and the reconciler all take. The purchase row is locked while Stripe is read, so
two reports of one payment are applied one after the other, each from a fresh read: a stale read can
never overwrite a newer one. The events go into the outbox in the same transaction as the change."""

from __future__ import annotations

import uuid

import structlog

from codex_contracts.events import PurchaseCompletedV1, PurchaseRefundedV1
from codex_purchase.deps import Deps
from codex_purchase.domain import Payment, Transition, transition
from codex_purchase.mails import receipt_mail
from codex_purchase.repository import Conn, PurchaseRow, Repository

__all__ = ["settle_intent"]

_log = structlog.stdlib.get_logger("codex_purchase.settlement")


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _find(repo: Repository, intent_id: str, payment: Payment) -> PurchaseRow | None:
    """The purchase the intent belongs to. A webhook can beat the commit that stores the intent's id
    on the purchase: then the intent's metadata names it."""
    row = await repo.lock_by_intent(intent_id)
    if row is not None:
        return row
    purchase_id = _uuid(payment.purchase_id)
    row = await repo.lock(purchase_id) if purchase_id else None
    if row is None or row.payment_intent_id not in (None, intent_id):
        return None
    if row.payment_intent_id is None and payment.client_secret:
        await repo.attach_intent(row.id, intent_id, payment.client_secret)
    return row


async def _apply(
    conn: Conn, deps: Deps, row: PurchaseRow, payment: Payment
) -> tuple[PurchaseRow, Transition | None]:
    repo = Repository(conn)
    change = transition(row.status, payment)
    if change is None:
        if payment.amount_refunded != row.amount_refunded_cents and row.status != "refunded":
            # a partial refund: recorded, access kept
            row = await repo.settle(
                row.id, row.status, payment.amount_refunded, completed=False, refunded=False
            )
        else:
            await repo.mark_checked(row.id)
        return row, None
    row = await repo.settle(
        row.id,
        change.status,
        payment.amount_refunded,
        completed=change.grants,
        refunded=change.status in ("refunded", "disputed"),
    )
    if change.grants:
        assert row.completed_at is not None and row.payment_intent_id is not None
        await deps.outbox.add(
            conn,
            PurchaseCompletedV1(
                purchase_id=str(row.id),
                customer_id=row.customer_id,
                content_id=row.content_id,
                amount_cents=row.amount_cents,
                currency=row.currency,
                payment_intent_id=row.payment_intent_id,
                completed_at=row.completed_at,
            ),
        )
    if change.revokes:
        assert row.refunded_at is not None
        await deps.outbox.add(
            conn,
            PurchaseRefundedV1(
                purchase_id=str(row.id),
                customer_id=row.customer_id,
                content_id=row.content_id,
                # a dispute takes the whole amount back, whatever was refunded before
                amount_refunded_cents=row.amount_cents
                if change.status == "disputed"
                else payment.amount_refunded,
                currency=row.currency,
                fully_refunded=True,
                refunded_at=row.refunded_at,
            ),
        )
    return row, change


async def settle_intent(deps: Deps, intent_id: str) -> PurchaseRow | None:
    """Apply what Stripe says now about `intent_id` to its purchase; None when no purchase of ours
    has that intent. Raises stripe.StripeError when Stripe cannot be read (the caller retries)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        repo = Repository(conn)
        locked = await repo.lock_by_intent(intent_id)
        payment = await deps.stripe.payment(intent_id)
        row = locked or await _find(repo, intent_id, payment)
        if row is None:
            _log.info("payment_intent_not_ours", payment_intent_id=intent_id)
            return None
        row, change = await _apply(conn, deps, row, payment)
    if change is not None:
        _log.info("purchase_settled", purchase_id=str(row.id), status=row.status, payment_intent_id=intent_id)
        if change.receipt:
            await _send_receipt(deps, row)
    return row


async def _send_receipt(deps: Deps, row: PurchaseRow) -> None:
    async with deps.pool.acquire() as conn:
        repo = Repository(conn)
        customer = await repo.customer(row.customer_id)
        price = await conn.fetchval("SELECT title FROM content_prices WHERE content_id = $1", row.content_id)
    if customer is None:
        _log.warning("receipt_without_address", purchase_id=str(row.id))
        return
    email, name = customer
    deps.mail.send_soon(
        receipt_mail(
            to=email,
            display_name=name,
            purchase_id=str(row.id),
            title=price or "",
            amount_cents=row.amount_cents,
            currency=row.currency,
            app_url=deps.settings.app_url,
        )
    )
