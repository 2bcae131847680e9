"""media-dispatch's event and command handlers: plain async functions, the message first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from codex_bus import Message, on
from codex_contracts.events import UploadCompletedV1
from codex_media_dispatch import repository
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.domain import (
    IN_FLIGHT,
    AssetNotFound,
    check_cancel,
    check_retry,
    token_matches,
)
from codex_media_dispatch.repository import PgConnection, Row
from codex_media_dispatch.runpod import RunpodRejected, RunpodUnavailable
from codex_media_dispatch.transitions import apply_report, end_asset
from codex_platform.errors import DomainError

_log = structlog.stdlib.get_logger("codex_media_dispatch")


class WebhookRejected(DomainError):
    """401 without a challenge: the caller is RunPod (or pretends to be), not a signed-in user."""

    status = 401

    def __init__(self) -> None:
        super().__init__("Unknown job or wrong token")


async def create_asset(message: Message[UploadCompletedV1], *, conn: PgConnection, deps: Deps) -> None:
    """An upload is complete: its asset waits for a slot (once per upload, whatever the redeliveries)."""
    upload = message.body
    created = await repository.insert_asset(
        conn,
        {
            "id": str(uuid.uuid4()),
            "upload_id": upload.upload_id,
            "owner_id": upload.owner_id,
            "bucket": upload.bucket,
            "source_key": upload.key,
            "filename": upload.filename,
            "size_bytes": upload.size_bytes,
        },
    )
    if created:
        await repository.wake_dispatchers(conn)
    _log.info("asset_queued" if created else "asset_exists", upload_id=upload.upload_id)


SUBSCRIPTIONS = [on(UploadCompletedV1, create_asset, inbox="media-dispatch.uploads")]


@dataclass(frozen=True)
class RunpodWebhook:
    job_id: str
    token: str
    body: dict[str, Any]


async def authenticate_webhook(webhook: RunpodWebhook, *, deps: Deps) -> None:
    """RunPod does not sign webhooks: the per-job secret in the URL is the proof (else 401)."""
    stored = await repository.job_token_hash(deps.pool, webhook.job_id)
    if not token_matches(webhook.token, stored):
        _log.warning("runpod_webhook_rejected", job_id=webhook.job_id[:64])
        raise WebhookRejected


async def apply_webhook(webhook: RunpodWebhook, *, deps: Deps) -> None:
    """After the 200: the transition, as the reconciler would apply it (a failure here is the
    reconciler's to catch up on)."""
    try:
        outcome = await apply_report(deps, webhook.job_id, webhook.body, source="webhook")
    except Exception as exc:
        _log.exception("runpod_webhook_apply_failed", job_id=webhook.job_id, error_type=type(exc).__name__)
        return
    _log.info(
        "runpod_webhook_applied", job_id=webhook.job_id, status=webhook.body.get("status"), outcome=outcome
    )


async def retry_asset(asset_id: str, *, deps: Deps) -> Row:
    """An admin's retry of a failed or canceled asset: queued again with a fresh attempt budget."""
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await repository.lock_asset(conn, asset_id)
        if row is None:
            raise AssetNotFound
        check_retry(row["state"])
        await repository.update_asset(
            conn,
            asset_id,
            {
                "state": "queued", "job_id": None, "runpod_job_id": None,
                "attempt_floor": row["attempts"], "submit_failures": 0, "not_before": datetime.now(UTC),
                "finished_at": None, "error_code": None, "error_message": None, "last_reason": "ADMIN_RETRY",
            },
        )  # fmt: skip
        await repository.wake_dispatchers(conn)
    return await _reloaded(deps, asset_id)


async def cancel_asset(asset_id: str, *, deps: Deps) -> Row:
    """An admin's cancel: the job at RunPod is cancelled too, and catalog hears the asset failed."""
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await repository.lock_asset(conn, asset_id)
        if row is None:
            raise AssetNotFound
        check_cancel(row["state"])
        await end_asset(
            conn, deps, row, to="canceled", code="CANCELED", message="Canceled by an administrator",
            retryable=True, source="admin",
        )  # fmt: skip
    if row["state"] in IN_FLIGHT and row["runpod_job_id"]:
        try:
            await deps.runpod.cancel(row["runpod_job_id"])
        except (RunpodUnavailable, RunpodRejected) as exc:
            _log.warning("runpod_cancel_failed", asset_id=asset_id, error=str(exc))
    return await _reloaded(deps, asset_id)


async def _reloaded(deps: Deps, asset_id: str) -> Row:
    row = await repository.get_asset(deps.pool, asset_id)
    if row is None:
        raise AssetNotFound
    return row
