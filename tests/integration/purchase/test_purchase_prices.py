"""The price projection from catalog's events (and receipt addresses from auth's), through the
subscription table on the in-memory bus with real Postgres inbox transactions: events in any order,
each applied once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from codex_bus import MemoryBus
from codex_contracts.events import ContentArchivedV1, ContentPublishedV1, ContentUpdatedV1, UserRegisteredV1
from codex_purchase.bootstrap import bootstrap
from codex_purchase.handlers import SUBSCRIPTIONS
from codex_purchase.repository import Repository
from codex_purchase.settings import PurchaseSettings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _published(at: datetime, price: int = 500) -> ContentPublishedV1:
    return ContentPublishedV1(
        content_id="c1", creator_id="cr", title="Film", price_cents=price, currency="EUR", asset_id=None,
        published_at=at,
    )  # fmt: skip


def _updated(at: datetime, price: int, status: str = "published") -> ContentUpdatedV1:
    return ContentUpdatedV1(
        content_id="c1", creator_id="cr", title="Film 2", description="", price_cents=price, currency="eur",
        status=status, updated_at=at,
    )  # fmt: skip


async def test_the_latest_event_wins_whatever_the_order_and_duplicates_do_nothing(
    purchase_settings_factory: Callable[..., PurchaseSettings],
) -> None:
    async with bootstrap(purchase_settings_factory()) as deps:
        bus = MemoryBus(SUBSCRIPTIONS)
        bus.start(deps)
        await bus.send(_updated(T0 + timedelta(minutes=2), 900))
        await bus.send(_published(T0))  # older: changes nothing
        await bus.drain()
        async with deps.pool.acquire() as conn:
            price = await Repository(conn).price("c1")
        assert price is not None
        assert (price.price_cents, price.currency, price.status) == (900, "eur", "published")

        archived = ContentArchivedV1(content_id="c1", creator_id="cr", archived_at=T0 + timedelta(minutes=3))
        envelope = await bus.send(archived)
        await bus.drain()
        async with deps.pool.acquire() as conn:
            price = await Repository(conn).price("c1")
            handled = await conn.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", envelope.id)
        assert price is not None and price.status == "archived" and price.price_cents == 900
        assert handled == 1
        assert {o.outcome for o in bus.outcomes} == {"acked"}


async def test_registered_users_get_an_address_for_receipts(
    purchase_settings_factory: Callable[..., PurchaseSettings],
) -> None:
    async with bootstrap(purchase_settings_factory()) as deps:
        bus = MemoryBus(SUBSCRIPTIONS)
        bus.start(deps)
        await bus.send(
            UserRegisteredV1(
                user_id="u1", email="ada@example.com", display_name="Ada", role="customer", registered_at=T0
            )
        )
        await bus.drain()
        async with deps.pool.acquire() as conn:
            assert await Repository(conn).customer("u1") == ("ada@example.com", "Ada")
