"""What the catalog tells the other services when content changes, through the outbox (in the
transaction of the change). purchase keeps its price projection from these."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from codex_bus import Outbox
from codex_catalog.domain import Content
from codex_catalog.repository import Connection, save_content
from codex_contracts import Envelope, Event
from codex_contracts.events import ContentArchivedV1, ContentPublishedV1, ContentUpdatedV1


def event_for(before: Content | None, after: Content, asset_id: str | None) -> Event | None:
    """The one event that says what changed from `before` to `after` (None: nothing to tell).

    Publishing and archiving have their own events; every other change (fields, status) is an update.
    """
    if before is not None and replace(before, updated_at=after.updated_at) == after:
        return None
    was = before.status if before is not None else None
    if after.status == "published" and was != "published":
        assert after.published_at is not None
        return ContentPublishedV1(
            content_id=after.id,
            creator_id=after.creator_id,
            title=after.title,
            price_cents=after.price_cents,
            currency=after.currency,
            asset_id=asset_id,
            published_at=after.published_at,
        )
    if after.status == "archived" and was != "archived":
        assert after.archived_at is not None
        return ContentArchivedV1(
            content_id=after.id, creator_id=after.creator_id, archived_at=after.archived_at
        )
    if before is None:
        return None  # a new draft: nobody else cares until it is published
    if _told(before) == _told(after):
        return None  # e.g. publishing asked for before the video is ready: nothing others see
    return ContentUpdatedV1(
        content_id=after.id,
        creator_id=after.creator_id,
        title=after.title,
        description=after.description,
        price_cents=after.price_cents,
        currency=after.currency,
        status=after.status,
        updated_at=after.updated_at,
    )


def _told(content: Content) -> tuple[object, ...]:
    """What an update event tells."""
    return (content.title, content.description, content.price_cents, content.currency, content.status)


async def save_and_announce(
    conn: Connection,
    outbox: Outbox,
    before: Content,
    after: Content,
    *,
    asset_id: str | None,
    now: datetime,
    causation: Envelope | None = None,
) -> Content:
    """Store `after` if it differs from `before` (stamped `now`) with its event; returns what is stored."""
    if replace(before, updated_at=after.updated_at) == after:
        return before
    after = replace(after, updated_at=now)
    await save_content(conn, after)
    event = event_for(before, after, asset_id)
    if event is not None:
        await outbox.add(conn, event, causation=causation)
    return after
