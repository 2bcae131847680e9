"""The upload service's commands: plain async functions (command arguments, *, deps).

upload consumes no events (SUBSCRIPTIONS is empty); it emits `upload.completed.v1` through the
outbox (completion.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from codex_bus import On
from codex_platform.errors import InvalidInput
from codex_platform.storage import UploadedPart
from codex_upload import repository, store
from codex_upload.bootstrap import Deps
from codex_upload.completion import late_put_cleanup, settle
from codex_upload.domain import (
    Declaration,
    TooManyUploads,
    Upload,
    UploadClosed,
    UploadNotFound,
    check_part_numbers,
    expires,
    object_key,
    plan_parts,
    url_expiry,
)

SUBSCRIPTIONS: list[On[Any]] = []


@dataclass(frozen=True)
class Caller:
    user_id: str
    role: str


@dataclass(frozen=True)
class Started:
    upload: Upload
    url: str | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class PartUrl:
    number: int
    url: str
    size_bytes: int


async def start_upload(caller: Caller, declared: Declaration, *, deps: Deps) -> Started:
    """A new upload and how to send its bytes: one presigned PUT, or a multipart upload's plan."""
    decision = await deps.limiter.hit("create", caller.user_id, deps.settings.create_rate)
    if not decision.allowed:
        raise TooManyUploads(decision.retry_after_s)
    settings = deps.settings
    now = deps.clock()
    upload_id = str(uuid.uuid4())
    key = object_key(upload_id, declared.extension)
    expires_at = expires(now, settings.upload_ttl_s)
    fields: dict[str, Any] = {
        "id": upload_id,
        "owner_id": caller.user_id,
        "filename": declared.filename,
        "content_type": declared.content_type,
        "size_bytes": declared.size_bytes,
        "object_key": key,
        "state": "pending",
        "created_at": now,
        "expires_at": expires_at,
    }
    if declared.size_bytes <= settings.single_put_max_bytes:
        upload = Upload(method="put", **fields)
        url = await store.presign_put(deps.storage, upload, url_expiry(now, upload, settings.upload_ttl_s))
        # The sweeper looks for the object from time to time (the client may never call complete).
        sweep_at = now + timedelta(seconds=settings.put_check_interval_s)
        async with deps.pool.acquire() as conn:
            await repository.insert(conn, upload, sweep_at=min(sweep_at, expires_at))
        return Started(upload, url, store.put_headers(upload))
    plan = plan_parts(declared.size_bytes, settings.part_size_bytes)
    multipart_id = await store.start_multipart(deps.storage, key, declared.content_type)
    upload = Upload(
        method="multipart",
        multipart_id=multipart_id,
        part_size=plan.part_size,
        part_count=plan.part_count,
        **fields,
    )
    try:
        async with deps.pool.acquire() as conn:
            await repository.insert(conn, upload, sweep_at=expires_at)
    except BaseException:
        await store.discard(deps.storage, upload)
        raise
    return Started(upload)


async def _visible(caller: Caller, upload_id: uuid.UUID, *, deps: Deps) -> Upload:
    async with deps.pool.acquire() as conn:
        upload = await repository.get(conn, upload_id)
    if upload is None or not upload.visible_to(caller.user_id, caller.role):
        raise UploadNotFound()
    return upload


async def find_upload(caller: Caller, upload_id: uuid.UUID, *, deps: Deps) -> tuple[Upload, int]:
    """The upload and how many of its parts the store holds (all of them once completed)."""
    upload = await _visible(caller, upload_id, deps=deps)
    if upload.state == "completed":
        return upload, upload.part_count or 1
    if upload.method == "multipart" and upload.is_open:
        return upload, len(await store.stored_parts(deps.storage, upload))
    return upload, 0


async def presign_parts(
    caller: Caller, upload_id: uuid.UUID, numbers: Sequence[int], *, deps: Deps
) -> tuple[Upload, list[PartUrl]]:
    """Presigned URLs for the parts asked for; asking again for a part is how a client resumes."""
    upload = await _visible(caller, upload_id, deps=deps)
    if not upload.is_open:
        raise UploadClosed(f"This upload is {upload.state}")
    chosen = check_part_numbers(list(numbers), upload.plan)
    now = deps.clock()
    ttl = url_expiry(now, upload, deps.settings.part_url_ttl_s)
    urls = [
        PartUrl(
            n,
            await store.presign_part(deps.storage, upload, n, ttl),
            upload.plan.length_of(n, upload.size_bytes),
        )
        for n in chosen
    ]
    if upload.state == "pending":
        async with deps.pool.acquire() as conn:
            await repository.mark_uploading(conn, upload_id, now)
    return upload, urls


async def list_stored_parts(caller: Caller, upload_id: uuid.UUID, *, deps: Deps) -> list[UploadedPart]:
    upload = await _visible(caller, upload_id, deps=deps)
    if upload.method != "multipart":
        raise UploadClosed("This upload is a single PUT: it has no parts")
    if not upload.is_open:
        return []
    return await store.stored_parts(deps.storage, upload)


def _chosen_parts(upload: Upload, parts: Sequence[tuple[int, str]] | None) -> list[UploadedPart] | None:
    if upload.method == "put":
        if parts:
            raise InvalidInput("parts", "a single-PUT upload completes without parts")
        return None
    if parts is None:
        return None  # complete with the parts the store lists
    numbers = sorted(number for number, _ in parts)
    count = upload.plan.part_count
    if numbers != list(range(1, count + 1)):
        raise InvalidInput("parts", f"must name each part 1 to {count} once")
    return [UploadedPart(number, etag, 0) for number, etag in parts]


async def complete_upload(
    caller: Caller, upload_id: uuid.UUID, parts: Sequence[tuple[int, str]] | None, *, deps: Deps
) -> Upload:
    """Verify the stored object and complete the upload; completing again answers the same upload."""
    upload = await _visible(caller, upload_id, deps=deps)
    if upload.state == "completed":
        return upload
    chosen = _chosen_parts(upload, parts)
    async with deps.pool.acquire() as conn, conn.transaction():
        locked = await repository.lock(conn, upload_id)
        assert locked is not None  # uploads are never deleted
        if locked.state == "completed":
            return locked  # a concurrent try completed it while this one waited for the row
        if not locked.is_open:
            raise UploadClosed(f"This upload is {locked.state}: {locked.failure_reason or 'start another'}")
        settled = await settle(conn, locked, deps=deps, parts=chosen)
    if settled.refused is not None:
        raise settled.refused
    return settled.upload


async def abort_upload(caller: Caller, upload_id: uuid.UUID, *, deps: Deps) -> None:
    """Abort an open upload and free its parts and object in the store; aborting again is a no-op."""
    await _visible(caller, upload_id, deps=deps)
    async with deps.pool.acquire() as conn, conn.transaction():
        upload = await repository.lock(conn, upload_id)
        assert upload is not None
        if upload.state == "completed":
            raise UploadClosed("This upload is completed; it cannot be aborted")
        if not upload.is_open:
            return
        now = deps.clock()
        await store.discard(deps.storage, upload)
        cleanup = late_put_cleanup(upload, now, deps.settings.late_put_grace_s)
        await repository.close(conn, upload_id, state="aborted", now=now, sweep_at=cleanup)


async def list_uploads(
    caller: Caller, *, after: tuple[datetime, uuid.UUID] | None, limit: int, deps: Deps
) -> list[Upload]:
    async with deps.pool.acquire() as conn:
        return await repository.page_of_owner(conn, caller.user_id, after=after, limit=limit)
