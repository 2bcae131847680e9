"""Content and its rules: status, who may change it, who may watch it. No I/O, no framework.

Status is derived, never set: from the content's own facts (an upload attached, publishing asked
for, archived) and from what the assets projection knows of its upload. So an asset event and a
creator's request may arrive in either order and the content ends in the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from codex_platform.errors import Conflict, InvalidInput, NotFound, NotPermitted

Status = Literal["draft", "processing", "ready", "published", "failed", "archived"]
AssetState = Literal["ready", "failed"]

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_PRICE_CENTS = 100_000_000


class ContentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such content")


class NotTheCreator(NotPermitted):
    def __init__(self) -> None:
        super().__init__("Only the creator of this content (or an admin) may change it")


class NotEntitled(NotPermitted):
    def __init__(self) -> None:
        super().__init__("Buy this content to watch it")


class NotPlayable(Conflict):
    def __init__(self, status: Status) -> None:
        super().__init__(f"This content is {status}: it has no playable video yet")


class CreatorsOnly(NotPermitted):
    def __init__(self) -> None:
        super().__init__("Only creators (and admins) may do this")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: the access token's user and role (`issued_at`: the token's `iat`)."""

    user_id: str
    role: str
    issued_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def as_recorded(self, role: str | None, role_at: datetime | None) -> Caller:
        """The caller with the role auth announced last, when that came after the token was issued:
        a demotion takes effect here at once, not when the 15-minute token expires."""
        if role is None or role_at is None or self.issued_at is None or role_at <= self.issued_at:
            return self
        return replace(self, role=role)


def check_creator(caller: Caller) -> None:
    if caller.role not in ("creator", "admin"):
        raise CreatorsOnly()


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    key: str
    width: int
    height: int
    bitrate: int
    codec: str


@dataclass(frozen=True, slots=True)
class Asset:
    """What media-dispatch last said about an upload."""

    upload_id: str
    asset_id: str
    owner_id: str
    state: AssetState
    renditions: tuple[Rendition, ...]
    thumbnail_key: str | None
    duration_s: float | None
    occurred_at: datetime

    def usable_by(self, creator_id: str) -> bool:
        # Upload ids are not secrets: a creator may only publish a video that they uploaded.
        return self.state == "ready" and self.owner_id == creator_id


@dataclass(frozen=True, slots=True)
class Content:
    id: str
    creator_id: str
    title: str
    description: str
    price_cents: int
    currency: str
    upload_id: str | None
    status: Status
    publish_requested: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0

    def owned_by(self, caller: Caller) -> bool:
        return caller.user_id == self.creator_id or caller.is_admin


def status_of(content: Content, asset: Asset | None) -> Status:
    """The status the content's facts and its upload's asset add up to."""
    if content.archived_at is not None:
        return "archived"
    if content.upload_id is None:
        return "draft"
    if asset is None:
        return "processing"
    if not asset.usable_by(content.creator_id):
        return "failed"
    return "published" if content.publish_requested else "ready"


def settle(content: Content, asset: Asset | None, now: datetime) -> Content:
    """`content` with the status its facts now give, and the time it was first published."""
    status = status_of(content, asset)
    published_at = content.published_at
    if status == "published" and published_at is None:
        published_at = now
    return replace(content, status=status, published_at=published_at)


def check_visible(content: Content | None, caller: Caller | None) -> Content:
    """Published content is public; anything else only its creator (and admins) may know exists."""
    if content is None:
        raise ContentNotFound()
    if content.status == "published" or (caller is not None and content.owned_by(caller)):
        return content
    raise ContentNotFound()


def check_editable(content: Content | None, caller: Caller) -> Content:
    content = check_visible(content, caller)
    if not content.owned_by(caller):
        raise NotTheCreator()
    if content.status == "archived":
        raise Conflict("Archived content cannot change")
    return content


def check_publishable(content: Content) -> None:
    if content.upload_id is None:
        raise Conflict("Attach an upload (upload_id) before publishing")
    if content.status == "failed":
        raise Conflict("The video of this content failed to process: attach another upload")


def check_upload_change(content: Content, upload_id: str | None) -> None:
    if upload_id != content.upload_id and content.status == "published":
        raise Conflict("Published content keeps its video: archive it and create new content")


def check_may_watch(content: Content | None, caller: Caller, *, has_access: bool) -> Content:
    """Owner, admin, a buyer with access, or anyone signed in for free published content."""
    if content is None:
        raise ContentNotFound()
    entitled = content.owned_by(caller) or has_access or (content.is_free and content.status == "published")
    if not entitled:
        # Drafts of others stay unknown; published content says what it would take.
        if content.status == "published":
            raise NotEntitled()
        raise ContentNotFound()
    return content


PLAYABLE: frozenset[Status] = frozenset({"ready", "published", "archived"})


def check_playable(content: Content, asset: Asset | None) -> Asset:
    # Archived content stays playable for those entitled: buyers keep what they paid for.
    if asset is None or not asset.usable_by(content.creator_id) or content.status not in PLAYABLE:
        raise NotPlayable(content.status)
    return asset


def clean_text(field: str, value: str, *, required: bool, limit: int) -> str:
    """Text as stored: stripped, within `limit`, no NUL (Postgres text cannot hold it)."""
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    value = value.strip()
    if required and not value:
        raise InvalidInput(field, "must not be blank")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters")
    return value


def clean_upload_id(upload_id: str | None) -> str | None:
    if upload_id is None:
        return None
    return clean_text("upload_id", upload_id, required=True, limit=100)
