"""What creators and viewers ask of the catalog: plain async functions (command, *, deps).

Each change runs in one transaction that locks the content row, reads its upload's asset, settles
the status (domain.settle) and adds the event that reports it (announcements), so a concurrent asset
event sees the change or is seen by it, never neither.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import msgspec

from codex_catalog import domain, repository
from codex_catalog.announcements import save_and_announce
from codex_catalog.bootstrap import Deps
from codex_catalog.domain import Caller, Content, clean_text, clean_upload_id
from codex_catalog.listing import OWN_SCOPE, ListingQuery, OwnQuery, Position, encode_cursor
from codex_catalog.playback import PlaybackUrls, playback_urls, thumbnail_url
from codex_catalog.repository import Connection


@dataclass(frozen=True, slots=True)
class NewContent:
    title: str
    description: str
    price_cents: int
    currency: str
    upload_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContentChanges:
    """A PATCH: UNSET leaves a field as it is; `upload_id=None` detaches the upload."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    price_cents: int | msgspec.UnsetType = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET
    upload_id: str | msgspec.UnsetType | None = msgspec.UNSET


@dataclass(frozen=True, slots=True)
class ContentView:
    content: Content
    creator_name: str | None
    thumbnail_url: str | None
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, object]]
    next_cursor: str | None


async def _current(conn: Connection, caller: Caller, *, creator: bool = True) -> Caller:
    """The caller as auth last described them; with `creator`, refused unless creator or admin."""
    caller = caller.as_recorded(*await repository.recorded_role(conn, caller.user_id))
    if creator:
        domain.check_creator(caller)
    return caller


async def create_content(caller: Caller, new: NewContent, *, deps: Deps) -> Content:
    now = deps.clock()
    draft = Content(
        id=str(uuid.uuid4()),
        creator_id=caller.user_id,
        title=clean_text("title", new.title, required=True, limit=domain.MAX_TITLE),
        description=clean_text("description", new.description, required=False, limit=domain.MAX_DESCRIPTION),
        price_cents=new.price_cents,
        currency=new.currency,
        upload_id=clean_upload_id(new.upload_id),
        status="draft",
        publish_requested=False,
        created_at=now,
        updated_at=now,
        published_at=None,
        archived_at=None,
    )
    async with deps.pool.acquire() as conn, conn.transaction():
        await _current(conn, caller)
        asset = await repository.get_asset(conn, draft.upload_id)
        content = domain.settle(draft, asset, now)
        # No event: a new draft is never published at once, and nobody else cares until it is.
        await repository.insert_content(conn, content)
    return content


def _changed(content: Content, changes: ContentChanges) -> Content:
    values: dict[str, object] = {}
    if not isinstance(changes.title, msgspec.UnsetType):
        values["title"] = clean_text("title", changes.title, required=True, limit=domain.MAX_TITLE)
    if not isinstance(changes.description, msgspec.UnsetType):
        values["description"] = clean_text(
            "description", changes.description, required=False, limit=domain.MAX_DESCRIPTION
        )
    if not isinstance(changes.price_cents, msgspec.UnsetType):
        values["price_cents"] = changes.price_cents
    if not isinstance(changes.currency, msgspec.UnsetType):
        values["currency"] = changes.currency
    if not isinstance(changes.upload_id, msgspec.UnsetType):
        upload_id = clean_upload_id(changes.upload_id)
        domain.check_upload_change(content, upload_id)
        values["upload_id"] = upload_id
    return replace(content, **values)  # type: ignore[arg-type]


async def update_content(caller: Caller, content_id: str, changes: ContentChanges, *, deps: Deps) -> Content:
    async with deps.pool.acquire() as conn, conn.transaction():
        caller = await _current(conn, caller)
        before = domain.check_editable(
            await repository.get_content(conn, content_id, for_update=True), caller
        )
        changed = _changed(before, changes)
        asset = await repository.get_asset(conn, changed.upload_id)
        after = domain.settle(changed, asset, deps.clock())
        return await save_and_announce(
            conn, deps.outbox, before, after, asset_id=asset.asset_id if asset else None, now=deps.clock()
        )


async def publish_content(caller: Caller, content_id: str, *, deps: Deps) -> Content:
    """Publish now if the asset is ready, else as soon as it is (the asset handler finishes the job)."""
    async with deps.pool.acquire() as conn, conn.transaction():
        caller = await _current(conn, caller)
        before = domain.check_editable(
            await repository.get_content(conn, content_id, for_update=True), caller
        )
        domain.check_publishable(before)
        asset = await repository.get_asset(conn, before.upload_id)
        after = domain.settle(replace(before, publish_requested=True), asset, deps.clock())
        return await save_and_announce(
            conn, deps.outbox, before, after, asset_id=asset.asset_id if asset else None, now=deps.clock()
        )


async def archive_content(caller: Caller, content_id: str, *, deps: Deps) -> Content:
    """Archive (from any status); archiving archived content again changes nothing."""
    async with deps.pool.acquire() as conn, conn.transaction():
        caller = await _current(conn, caller)
        content = domain.check_visible(
            await repository.get_content(conn, content_id, for_update=True), caller
        )
        if not content.owned_by(caller):
            raise domain.NotTheCreator()
        if content.archived_at is not None:
            return content
        now = deps.clock()
        after = domain.settle(replace(content, archived_at=now), None, now)
        return await save_and_announce(conn, deps.outbox, content, after, asset_id=None, now=now)


async def view_content(caller: Caller | None, content_id: str, *, deps: Deps) -> ContentView:
    async with deps.pool.acquire() as conn:
        content = domain.check_visible(await repository.get_content(conn, content_id), caller)
    return await describe(content, deps=deps)


async def describe(content: Content, *, deps: Deps) -> ContentView:
    """The content as shown: with its creator's name, its thumbnail's URL and its duration."""
    async with deps.pool.acquire() as conn:
        asset = await repository.get_asset(conn, content.upload_id)
        name = await repository.creator_name(conn, content.creator_id)
    usable = asset if asset is not None and asset.usable_by(content.creator_id) else None
    thumbnail = await thumbnail_url(deps.storage, usable, ttl_s=deps.settings.thumbnail_url_ttl_s)
    return ContentView(content, name, thumbnail, usable.duration_s if usable else None)


async def list_content(query: ListingQuery, *, deps: Deps) -> Page:
    async with deps.pool.acquire() as conn:
        records = await repository.list_published(conn, query)
    rows = [dict(record) for record in records[: query.limit]]
    next_cursor = None
    if len(records) > query.limit:
        last = rows[-1]
        position = Position(last["published_at"], last["id"], last.get("rank"))
        next_cursor = encode_cursor(position, query.search)
    return Page(rows, next_cursor)


@dataclass(frozen=True, slots=True)
class OwnPage:
    contents: list[Content]
    next_cursor: str | None


async def list_own(caller: Caller, query: OwnQuery, *, deps: Deps) -> OwnPage:
    """The caller's own content in every status: where a creator finds drafts to edit and publish."""
    async with deps.pool.acquire() as conn:
        await _current(conn, caller)
        contents = await repository.list_own(conn, query)
    page, more = contents[: query.limit], len(contents) > query.limit
    cursor = encode_cursor(Position(page[-1].created_at, uuid.UUID(page[-1].id)), OWN_SCOPE) if more else None
    return OwnPage(page, cursor)


async def play_content(caller: Caller, content_id: str, *, deps: Deps) -> PlaybackUrls:
    async with deps.pool.acquire() as conn:
        caller = await _current(conn, caller, creator=False)
        content = await repository.get_content(conn, content_id)
        entitled = content is not None and await repository.has_access(conn, caller.user_id, content.id)
        content = domain.check_may_watch(content, caller, has_access=entitled)
        asset = domain.check_playable(content, await repository.get_asset(conn, content.upload_id))
    ttl_s = deps.settings.playback_url_ttl_s
    return await playback_urls(deps.storage, asset, ttl_s=ttl_s, now=deps.clock())
