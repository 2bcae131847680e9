"""asyncpg queries on the purchase service's own schema (migrations/0001_purchases.sql)."""

# ruff: noqa: S608  (the only text put into queries is the constant _COLUMNS; values are parameters)

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

from codex_purchase.domain import Price, Status

__all__ = ["PurchaseRow", "Repository"]

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

_COLUMNS = """id, customer_id, content_id, amount_cents, currency, status, payment_intent_id, client_secret,
amount_refunded_cents, created_at, updated_at, completed_at, refunded_at"""


@dataclass(frozen=True)
class PurchaseRow:
    id: uuid.UUID
    customer_id: str
    content_id: str
    amount_cents: int
    currency: str
    status: Status
    payment_intent_id: str | None
    client_secret: str | None
    amount_refunded_cents: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    refunded_at: datetime | None


def _row(record: asyncpg.Record | None) -> PurchaseRow | None:
    return None if record is None else PurchaseRow(**dict(record))


class Repository:
    """Queries on one connection (inside the caller's transaction where it has one)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    # the price projection and the customers' addresses

    async def price(self, content_id: str) -> Price | None:
        record = await self.conn.fetchrow(
            "SELECT content_id, creator_id, price_cents, currency, status FROM content_prices"
            " WHERE content_id = $1",
            content_id,
        )
        return None if record is None else Price(**dict(record))

    async def record_price(
        self,
        *,
        content_id: str,
        creator_id: str,
        title: str | None,
        price_cents: int | None,
        currency: str | None,
        status: str,
        as_of: datetime,
    ) -> None:
        """Upsert what an event says, unless a later event is already stored (events arrive in any
        order). An archive carries no price: it keeps the one stored (or 0 when none is)."""
        await self.conn.execute(
            """
            INSERT INTO content_prices AS p
                (content_id, creator_id, title, price_cents, currency, status, as_of)
            VALUES ($1, $2, coalesce($3, ''), coalesce($4, 0), coalesce($5, 'usd'), $6, $7)
            ON CONFLICT (content_id) DO UPDATE SET
                creator_id = EXCLUDED.creator_id,
                title = coalesce($3, p.title),
                price_cents = coalesce($4, p.price_cents),
                currency = coalesce($5, p.currency),
                status = EXCLUDED.status,
                as_of = EXCLUDED.as_of
            WHERE p.as_of <= EXCLUDED.as_of
            """,
            content_id,
            creator_id,
            title,
            price_cents,
            currency,
            status,
            as_of,
        )

    async def record_customer(self, user_id: str, email: str, display_name: str) -> None:
        await self.conn.execute(
            """INSERT INTO customers (user_id, email, display_name) VALUES ($1, $2, $3)
               ON CONFLICT (user_id) DO UPDATE
               SET email = EXCLUDED.email, display_name = EXCLUDED.display_name""",
            user_id,
            email,
            display_name,
        )

    async def customer(self, user_id: str) -> tuple[str, str] | None:
        record = await self.conn.fetchrow(
            "SELECT email, display_name FROM customers WHERE user_id = $1", user_id
        )
        return None if record is None else (record["email"], record["display_name"])

    # purchases

    async def owns(self, customer_id: str, content_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM purchases WHERE customer_id = $1 AND content_id = $2"
                " AND status = 'completed')",
                customer_id,
                content_id,
            )
        )

    async def start(self, customer_id: str, price: Price) -> tuple[PurchaseRow, bool]:
        """A new pending purchase, or the one already pending for this customer and content (the
        unique partial index decides between concurrent requests); True when new."""
        record = await self.conn.fetchrow(
            f"""INSERT INTO purchases (id, customer_id, content_id, amount_cents, currency, status)
                VALUES ($1, $2, $3, $4, $5, 'pending')
                ON CONFLICT (customer_id, content_id) WHERE status = 'pending' DO NOTHING
                RETURNING {_COLUMNS}""",
            uuid.uuid4(),
            customer_id,
            price.content_id,
            price.price_cents,
            price.currency,
        )
        if record is not None:
            return PurchaseRow(**dict(record)), True
        existing = await self.conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM purchases
                WHERE customer_id = $1 AND content_id = $2 AND status = 'pending'""",
            customer_id,
            price.content_id,
        )
        if existing is None:  # settled between the two statements: start again
            return await self.start(customer_id, price)
        return PurchaseRow(**dict(existing)), False

    async def attach_intent(self, purchase_id: uuid.UUID, intent_id: str, client_secret: str) -> None:
        await self.conn.execute(
            """UPDATE purchases SET payment_intent_id = $2, client_secret = $3, updated_at = now()
               WHERE id = $1 AND payment_intent_id IS NULL""",
            purchase_id,
            intent_id,
            client_secret,
        )

    async def get(self, purchase_id: uuid.UUID) -> PurchaseRow | None:
        return _row(await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM purchases WHERE id = $1", purchase_id))

    async def lock_by_intent(self, intent_id: str) -> PurchaseRow | None:
        record = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM purchases WHERE payment_intent_id = $1 FOR UPDATE", intent_id
        )
        return _row(record)

    async def lock(self, purchase_id: uuid.UUID) -> PurchaseRow | None:
        record = await self.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM purchases WHERE id = $1 FOR UPDATE", purchase_id
        )
        return _row(record)

    async def settle(
        self, purchase_id: uuid.UUID, status: Status, amount_refunded: int, *, completed: bool, refunded: bool
    ) -> PurchaseRow:
        record = await self.conn.fetchrow(
            f"""UPDATE purchases
                SET status = $2, amount_refunded_cents = $3, updated_at = now(), checked_at = now(),
                    -- the time now, not the transaction's start: taken under the row lock, so a later
                    -- change of one purchase always has a later time (catalog keeps the latest)
                    completed_at = CASE WHEN $4 THEN clock_timestamp() ELSE completed_at END,
                    refunded_at = CASE WHEN $5 THEN clock_timestamp() ELSE refunded_at END
                WHERE id = $1 RETURNING {_COLUMNS}""",
            purchase_id,
            status,
            amount_refunded,
            completed,
            refunded,
        )
        assert record is not None
        return PurchaseRow(**dict(record))

    async def mark_checked(self, purchase_id: uuid.UUID) -> None:
        await self.conn.execute("UPDATE purchases SET checked_at = now() WHERE id = $1", purchase_id)

    async def page(
        self, customer_id: str, limit: int, after: tuple[datetime, uuid.UUID] | None
    ) -> list[PurchaseRow]:
        """The customer's purchases, newest first, after the cursor's (created_at, id)."""
        records = await self.conn.fetch(
            f"""SELECT {_COLUMNS} FROM purchases WHERE customer_id = $1
                AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
                ORDER BY created_at DESC, id DESC LIMIT $4""",
            customer_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
        return [PurchaseRow(**dict(r)) for r in records]

    # Stripe events and the reconciler's work

    async def store_event(self, event_id: str, type: str, intent_id: str | None, *, processed: bool) -> bool:
        """Record a verified event; False when it was already recorded (a redelivery)."""
        inserted = await self.conn.fetchval(
            """INSERT INTO stripe_events (id, type, payment_intent_id, processed_at)
               VALUES ($1, $2, $3, CASE WHEN $4 THEN now() END)
               ON CONFLICT (id) DO NOTHING RETURNING true""",
            event_id,
            type,
            intent_id,
            processed,
        )
        return bool(inserted)

    async def mark_processed(self, event_id: str) -> None:
        await self.conn.execute("UPDATE stripe_events SET processed_at = now() WHERE id = $1", event_id)

    async def unprocessed_events(self, older_than_s: float, limit: int = 100) -> list[tuple[str, str]]:
        records = await self.conn.fetch(
            """SELECT id, payment_intent_id FROM stripe_events WHERE processed_at IS NULL
               AND received_at < now() - make_interval(secs => $1) ORDER BY received_at LIMIT $2""",
            older_than_s,
            limit,
        )
        return [(r["id"], r["payment_intent_id"]) for r in records]

    async def stale_pending(self, older_than_s: float, limit: int = 100) -> list[PurchaseRow]:
        """Pending purchases older than `older_than_s` not checked within that time either."""
        records = await self.conn.fetch(
            f"""SELECT {_COLUMNS} FROM purchases WHERE status = 'pending'
                AND created_at < now() - make_interval(secs => $1)
                AND (checked_at IS NULL OR checked_at < now() - make_interval(secs => $1))
                ORDER BY created_at LIMIT $2""",
            older_than_s,
            limit,
        )
        return [PurchaseRow(**dict(r)) for r in records]
