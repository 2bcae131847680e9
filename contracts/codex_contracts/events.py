"""The events of the flow in ARCHITECTURE.md, version 1. Frozen once published: see base.py."""

from __future__ import annotations

from typing import Literal

import msgspec

from codex_contracts.base import Event, Timestamp, contract

Role = Literal["customer", "creator", "admin"]


@contract("auth.user.registered.v1")
class UserRegisteredV1(Event, kw_only=True, frozen=True):
    subject_field = "user_id"
    user_id: str
    email: str
    display_name: str
    role: Role
    registered_at: Timestamp


@contract("auth.user.role_changed.v1")
class UserRoleChangedV1(Event, kw_only=True, frozen=True):
    """A user's role changed: consumers drop what the old role allowed without waiting for the
    user's access token (15 minutes) to expire. `changed_by` is the admin's user id, or None when
    an operator changed it from the command line (create-admin promoting an existing account)."""

    subject_field = "user_id"
    user_id: str
    previous_role: Role
    role: Role
    changed_by: str | None
    changed_at: Timestamp


@contract("upload.completed.v1")
class UploadCompletedV1(Event, kw_only=True, frozen=True):
    subject_field = "upload_id"
    upload_id: str
    owner_id: str
    bucket: str
    key: str
    filename: str
    content_type: str
    size_bytes: int
    etag: str
    completed_at: Timestamp


class AssetRendition(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    key: str
    width: int
    height: int
    codec: str
    bitrate: int
    size_bytes: int
    duration_s: float


@contract("media.asset.ready.v1")
class AssetReadyV1(Event, kw_only=True, frozen=True):
    subject_field = "asset_id"
    asset_id: str
    upload_id: str
    owner_id: str
    renditions: list[AssetRendition]
    thumbnail_key: str | None
    duration_s: float
    ready_at: Timestamp


@contract("media.asset.failed.v1")
class AssetFailedV1(Event, kw_only=True, frozen=True):
    subject_field = "asset_id"
    asset_id: str
    upload_id: str
    owner_id: str
    error_code: str
    error_message: str
    retryable: bool
    failed_at: Timestamp


@contract("catalog.content.published.v1")
class ContentPublishedV1(Event, kw_only=True, frozen=True):
    subject_field = "content_id"
    content_id: str
    creator_id: str
    title: str
    price_cents: int
    currency: str
    asset_id: str | None
    published_at: Timestamp


@contract("catalog.content.updated.v1")
class ContentUpdatedV1(Event, kw_only=True, frozen=True):
    subject_field = "content_id"
    content_id: str
    creator_id: str
    title: str
    description: str
    price_cents: int
    currency: str
    status: str
    updated_at: Timestamp


@contract("catalog.content.archived.v1")
class ContentArchivedV1(Event, kw_only=True, frozen=True):
    subject_field = "content_id"
    content_id: str
    creator_id: str
    archived_at: Timestamp


@contract("purchase.completed.v1")
class PurchaseCompletedV1(Event, kw_only=True, frozen=True):
    subject_field = "purchase_id"
    purchase_id: str
    customer_id: str
    content_id: str
    amount_cents: int
    currency: str
    payment_intent_id: str
    completed_at: Timestamp


@contract("purchase.refunded.v1")
class PurchaseRefundedV1(Event, kw_only=True, frozen=True):
    subject_field = "purchase_id"
    purchase_id: str
    customer_id: str
    content_id: str
    amount_refunded_cents: int
    currency: str
    fully_refunded: bool
    refunded_at: Timestamp
