"""Completion: the one path from "bytes may be in the store" to `upload.completed.v1`.

Both the HTTP completion and the sweeper's auto-completion call `settle` with the upload's row
locked (repository.lock / claim_due), so however many tries run at once, one changes the state and
writes the event, and the others find it completed. The event goes to the outbox in the same
transaction as the state change: it is published if and only if the completion commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from codex_contracts.events import UploadCompletedV1
from codex_platform.storage import UploadedPart
from codex_upload import repository, store
from codex_upload.bootstrap import Deps
from codex_upload.domain import ObjectMissing, ObjectRefused, Upload, refusal_of
from codex_upload.repository import Conn


@dataclass(frozen=True)
class Settled:
    """What a completion try ended with: the upload as it now is, and the refusal if there was one."""

    upload: Upload
    refused: ObjectRefused | None = None


def late_put_cleanup(upload: Upload, now: datetime, grace_s: int) -> datetime:
    """When bytes can no longer land through a URL this upload handed out: then the sweeper deletes
    what a late PUT left (a PUT URL stays valid until the upload's expiry, and a PUT that began just
    before it may end after it)."""
    return max(upload.expires_at, now) + timedelta(seconds=grace_s)


async def settle(
    conn: Conn,
    upload: Upload,
    *,
    deps: Deps,
    parts: Sequence[UploadedPart] | None = None,
) -> Settled:
    """Verify the stored object of a locked, open upload and complete or fail it.

    Raises ObjectMissing (nothing changes) when the object is not in the store. A refused object is
    deleted and the upload failed; the refusal is returned, not raised, so that the caller commits
    the failure before answering 409.
    """
    if upload.method == "multipart":
        await store.assemble(deps.storage, upload, parts)
    stored = await store.inspect(deps.storage, upload.object_key)
    if stored is None:
        raise ObjectMissing("The file is not in the store yet: upload it, then complete")
    now = deps.clock()
    upload_id = uuid.UUID(upload.id)
    reason = refusal_of(upload, stored.size, stored.content_type)
    if reason is not None:
        await repository.close(
            conn,
            upload_id,
            state="failed",
            now=now,
            reason=reason,
            sweep_at=late_put_cleanup(upload, now, deps.settings.late_put_grace_s),
        )
        with store.store_errors():
            await deps.storage.delete(upload.object_key)
        failed = replace(upload, state="failed", failure_reason=reason)
        return Settled(failed, ObjectRefused(f"Refused: {reason}; the object was deleted"))
    etag = stored.etag.strip('"')
    await repository.complete(conn, upload_id, etag=etag, now=now)
    await deps.outbox.add(
        conn,
        UploadCompletedV1(
            upload_id=upload.id,
            owner_id=upload.owner_id,
            bucket=deps.storage.bucket,
            key=upload.object_key,
            filename=upload.filename,
            content_type=upload.content_type,
            size_bytes=stored.size,
            etag=etag,
            completed_at=now,
        ),
    )
    return Settled(upload.completed(etag, now))
