"""Event handlers: the catalog's projections of other services' facts, and the table that routes
each event to its handler. Each runs in an inbox transaction (a redelivery has no second effect) and
is written for any order: every projection keeps, per key, the fact with the latest time of its own.
"""

from __future__ import annotations

from typing import Any

from codex_bus import Message, On, on
from codex_catalog import domain, repository
from codex_catalog.announcements import save_and_announce
from codex_catalog.bootstrap import Deps
from codex_catalog.domain import Asset, Rendition
from codex_catalog.repository import Connection
from codex_contracts import Envelope
from codex_contracts.events import (
    AssetFailedV1,
    AssetReadyV1,
    PurchaseCompletedV1,
    PurchaseRefundedV1,
    UserRegisteredV1,
    UserRoleChangedV1,
)


async def _settle_contents_of(upload_id: str, cause: Envelope, *, conn: Connection, deps: Deps) -> None:
    """Bring every content using the upload to the status its (latest) asset gives."""
    asset = await repository.get_asset(conn, upload_id)
    now = deps.clock()
    for content in await repository.contents_of_upload(conn, upload_id):
        after = domain.settle(content, asset, now)
        await save_and_announce(
            conn,
            deps.outbox,
            content,
            after,
            asset_id=asset.asset_id if asset else None,
            now=now,
            causation=cause,
        )


async def record_asset_ready(message: Message[AssetReadyV1], *, conn: Connection, deps: Deps) -> None:
    """The asset may be ready before any content uses it: the projection keeps it for later."""
    event = message.body
    asset = Asset(
        upload_id=event.upload_id,
        asset_id=event.asset_id,
        owner_id=event.owner_id,
        state="ready",
        renditions=tuple(
            Rendition(r.name, r.key, r.width, r.height, r.bitrate, r.codec) for r in event.renditions
        ),
        thumbnail_key=event.thumbnail_key,
        duration_s=event.duration_s,
        occurred_at=event.ready_at,
    )
    if await repository.record_asset(conn, asset):
        await _settle_contents_of(event.upload_id, message.envelope, conn=conn, deps=deps)


async def record_asset_failed(message: Message[AssetFailedV1], *, conn: Connection, deps: Deps) -> None:
    event = message.body
    asset = Asset(
        upload_id=event.upload_id,
        asset_id=event.asset_id,
        owner_id=event.owner_id,
        state="failed",
        renditions=(),
        thumbnail_key=None,
        duration_s=None,
        occurred_at=event.failed_at,
    )
    kept = await repository.record_asset(
        conn, asset, error_code=event.error_code, error_message=event.error_message[:500]
    )
    if kept:
        await _settle_contents_of(event.upload_id, message.envelope, conn=conn, deps=deps)


async def record_user(message: Message[UserRegisteredV1], *, conn: Connection, deps: Deps) -> None:
    event = message.body
    await repository.record_creator_name(conn, event.user_id, event.display_name, event.registered_at)
    await repository.record_creator_role(conn, event.user_id, event.role, event.registered_at)


async def record_role_change(message: Message[UserRoleChangedV1], *, conn: Connection, deps: Deps) -> None:
    """A demoted creator loses creator rights here at once, before their access token expires."""
    event = message.body
    await repository.record_creator_role(conn, event.user_id, event.role, event.changed_at)


async def grant_access(message: Message[PurchaseCompletedV1], *, conn: Connection, deps: Deps) -> None:
    event = message.body
    await repository.record_access(
        conn,
        customer_id=event.customer_id,
        content_id=event.content_id,
        granted=True,
        purchase_id=event.purchase_id,
        at=event.completed_at,
    )


async def revoke_access(message: Message[PurchaseRefundedV1], *, conn: Connection, deps: Deps) -> None:
    """A full refund (or a dispute, which purchase reports as one) ends access; a partial refund is a
    discount on what was bought, so access stays."""
    event = message.body
    if not event.fully_refunded:
        return
    await repository.record_access(
        conn,
        customer_id=event.customer_id,
        content_id=event.content_id,
        granted=False,
        purchase_id=event.purchase_id,
        at=event.refunded_at,
    )


SUBSCRIPTIONS: list[On[Any]] = [
    on(AssetReadyV1, record_asset_ready, inbox="catalog.assets"),
    on(AssetFailedV1, record_asset_failed, inbox="catalog.assets"),
    on(UserRegisteredV1, record_user, inbox="catalog.creators"),
    on(UserRoleChangedV1, record_role_change, inbox="catalog.creators"),
    on(PurchaseCompletedV1, grant_access, inbox="catalog.access"),
    on(PurchaseRefundedV1, revoke_access, inbox="catalog.access"),
]
