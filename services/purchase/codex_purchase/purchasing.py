"""Starting a purchase: the price from the local projection, one pending purchase per customer and
content (a unique partial index), and its PaymentIntent created with the purchase id as idempotency
key, so that concurrent or retried requests all get the same intent."""

from __future__ import annotations

import dataclasses

from codex_purchase.deps import Deps
from codex_purchase.domain import check_for_sale
from codex_purchase.repository import PurchaseRow, Repository

__all__ = ["start_purchase"]


async def start_purchase(deps: Deps, *, customer_id: str, content_id: str) -> tuple[PurchaseRow, bool]:
    """The customer's pending purchase of the content, with its intent; True when it is new."""
    async with deps.pool.acquire() as conn:
        repo = Repository(conn)
        async with conn.transaction():
            owned = await repo.owns(customer_id, content_id)
            price = check_for_sale(await repo.price(content_id), buyer_id=customer_id, owned=owned)
            row, created = await repo.start(customer_id, price)
        if row.payment_intent_id is not None:
            return row, created
        # Outside the transaction: no lock is held while Stripe answers. A concurrent request for
        # the same purchase sends the same key and parameters, and Stripe answers both with one intent.
        intent = await deps.stripe.create_intent(
            purchase_id=str(row.id),
            amount=row.amount_cents,
            currency=row.currency,
            metadata={"purchase_id": str(row.id), "user_id": customer_id, "content_id": content_id},
        )
        await repo.attach_intent(row.id, intent.id, intent.client_secret)
    return dataclasses.replace(row, payment_intent_id=intent.id, client_secret=intent.client_secret), created
