"""Request and response bodies of the HTTP API (msgspec Structs: validated in, documented out)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from codex_catalog.commands import ContentView, OwnPage, Page
from codex_catalog.domain import MAX_DESCRIPTION, MAX_PRICE_CENTS, MAX_TITLE, Status
from codex_catalog.domain import Content as ContentRecord
from codex_catalog.playback import PlaybackUrls

Title = Annotated[str, Meta(min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str, Meta(max_length=MAX_DESCRIPTION)]
PriceCents = Annotated[
    int, Meta(ge=0, le=MAX_PRICE_CENTS, description="In minor units of the currency; 0 is free")
]
Currency = Annotated[
    str, Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD", examples=["USD"])
]
UploadId = Annotated[str, Meta(min_length=1, max_length=100, description="The id of one of your uploads")]


class ContentCreate(Struct, kw_only=True, forbid_unknown_fields=True):
    title: Title
    price_cents: PriceCents
    currency: Currency
    description: Description = ""
    upload_id: UploadId | None = None


class ContentUpdate(Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields sent change; `upload_id: null` detaches the upload (not once published)."""

    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    price_cents: PriceCents | UnsetType = UNSET
    currency: Currency | UnsetType = UNSET
    upload_id: UploadId | UnsetType | None = UNSET


class Content(Struct, kw_only=True):
    id: str
    creator_id: str
    creator_name: str | None
    title: str
    description: str
    price_cents: int
    currency: str
    status: Status
    publish_requested: bool
    upload_id: str | None
    thumbnail_url: str | None
    duration_s: float | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None

    @classmethod
    def of(cls, view: ContentView) -> Content:
        c = view.content
        return cls(
            id=c.id,
            creator_id=c.creator_id,
            creator_name=view.creator_name,
            title=c.title,
            description=c.description,
            price_cents=c.price_cents,
            currency=c.currency,
            status=c.status,
            publish_requested=c.publish_requested,
            upload_id=c.upload_id,
            thumbnail_url=view.thumbnail_url,
            duration_s=view.duration_s,
            created_at=c.created_at,
            updated_at=c.updated_at,
            published_at=c.published_at,
            archived_at=c.archived_at,
        )


class ContentSummary(Struct, kw_only=True):
    id: str
    creator_id: str
    creator_name: str | None
    title: str
    description: str
    price_cents: int
    currency: str
    published_at: datetime


class ContentPage(Struct, kw_only=True):
    items: list[ContentSummary]
    next_cursor: str | None = msgspec.field(default=None)
    """Pass as `cursor` for the next page; null on the last page."""

    @classmethod
    def of(cls, page: Page) -> ContentPage:
        return cls(items=[_summary(row) for row in page.rows], next_cursor=page.next_cursor)


def _summary(row: dict[str, Any]) -> ContentSummary:
    return ContentSummary(
        id=str(row["id"]),
        creator_id=row["creator_id"],
        creator_name=row["creator_name"],
        title=row["title"],
        description=row["description"],
        price_cents=row["price_cents"],
        currency=row["currency"],
        published_at=row["published_at"],
    )


class OwnContent(Struct, kw_only=True):
    """One of the caller's own contents, in any status."""

    id: str
    title: str
    status: Status
    publish_requested: bool
    price_cents: int
    currency: str
    upload_id: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, c: ContentRecord) -> OwnContent:
        return cls(
            id=c.id,
            title=c.title,
            status=c.status,
            publish_requested=c.publish_requested,
            price_cents=c.price_cents,
            currency=c.currency,
            upload_id=c.upload_id,
            created_at=c.created_at,
            updated_at=c.updated_at,
            published_at=c.published_at,
        )


class OwnContentPage(Struct, kw_only=True):
    items: list[OwnContent]
    next_cursor: str | None = None

    @classmethod
    def of(cls, page: OwnPage) -> OwnContentPage:
        return cls(items=[OwnContent.of(c) for c in page.contents], next_cursor=page.next_cursor)


class RenditionUrl(Struct, kw_only=True):
    name: str
    url: str
    width: int
    height: int
    bitrate: int
    codec: str


class Playback(Struct, kw_only=True):
    content_id: str
    renditions: list[RenditionUrl]
    """Largest first."""
    thumbnail_url: str | None
    duration_s: float | None
    expires_at: datetime
    """When the URLs stop working: ask again for fresh ones."""

    @classmethod
    def of(cls, content_id: str, urls: PlaybackUrls) -> Playback:
        return cls(
            content_id=content_id,
            renditions=[
                RenditionUrl(
                    name=r.name, url=r.url, width=r.width, height=r.height, bitrate=r.bitrate, codec=r.codec
                )
                for r in urls.renditions
            ],
            thumbnail_url=urls.thumbnail_url,
            duration_s=urls.duration_s,
            expires_at=urls.expires_at,
        )
