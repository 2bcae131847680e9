"""Event handlers: the price projection from catalog's content events and customers' addresses (for
receipts) from auth's registrations. Each runs in an inbox transaction, so a redelivery does nothing;
events of one content may arrive in any order, and an older one never overwrites a newer one."""

from __future__ import annotations

from typing import Any

from codex_bus import Message, on
from codex_contracts.events import ContentArchivedV1, ContentPublishedV1, ContentUpdatedV1, UserRegisteredV1
from codex_purchase.deps import Deps
from codex_purchase.repository import Conn, Repository

__all__ = ["SUBSCRIPTIONS"]


async def record_published(message: Message[ContentPublishedV1], *, conn: Conn, deps: Deps) -> None:
    event = message.body
    await Repository(conn).record_price(
        content_id=event.content_id,
        creator_id=event.creator_id,
        title=event.title,
        price_cents=event.price_cents,
        currency=event.currency.lower(),
        status="published",
        as_of=event.published_at,
    )


async def record_updated(message: Message[ContentUpdatedV1], *, conn: Conn, deps: Deps) -> None:
    event = message.body
    await Repository(conn).record_price(
        content_id=event.content_id,
        creator_id=event.creator_id,
        title=event.title,
        price_cents=event.price_cents,
        currency=event.currency.lower(),
        status=event.status,
        as_of=event.updated_at,
    )


async def record_archived(message: Message[ContentArchivedV1], *, conn: Conn, deps: Deps) -> None:
    event = message.body
    await Repository(conn).record_price(
        content_id=event.content_id,
        creator_id=event.creator_id,
        title=None,
        price_cents=None,
        currency=None,
        status="archived",
        as_of=event.archived_at,
    )


async def record_customer(message: Message[UserRegisteredV1], *, conn: Conn, deps: Deps) -> None:
    event = message.body
    await Repository(conn).record_customer(event.user_id, event.email, event.display_name)


SUBSCRIPTIONS: list[Any] = [
    on(ContentPublishedV1, record_published, inbox="purchase.prices"),
    on(ContentUpdatedV1, record_updated, inbox="purchase.prices"),
    on(ContentArchivedV1, record_archived, inbox="purchase.prices"),
    on(UserRegisteredV1, record_customer, inbox="purchase.customers"),
]
