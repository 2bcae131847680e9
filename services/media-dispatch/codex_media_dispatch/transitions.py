"""Applying what RunPod said about a job to its asset: the one path the webhook and the reconciler share.

Facts that need I/O (are the outputs in the store?) are gathered first; then the asset row is locked,
and the transition is decided and written with its event (through the outbox) in one transaction. A
report about a job that is no longer the asset's current one, or about an asset already decided, finds
nothing to do: that is how duplicated, late and twice-executed jobs end up with one event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from codex_contracts.events import AssetFailedV1, AssetReadyV1, AssetRendition
from codex_contracts.transcode import TranscodeResultV1
from codex_media_dispatch import metrics, repository
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.domain import (
    AssetSnapshot,
    Observation,
    Policy,
    Transition,
    decide,
    observe,
    rendition_key,
    thumbnail_key,
)
from codex_media_dispatch.repository import PgConnection, Row
from codex_media_dispatch.runpod import RunpodRejected, RunpodUnavailable

_log = structlog.stdlib.get_logger("codex_media_dispatch")


def policy_of(deps: Deps) -> Policy:
    s = deps.settings
    return Policy(s.max_attempts, s.retry_base_s, s.retry_max_s, s.stuck_in_queue_s)


async def apply_report(deps: Deps, job_id: str, body: dict[str, Any] | None, *, source: str) -> str:
    """Apply a `/status` body or webhook payload (None: RunPod answered 404) for our job `job_id`.
    Returns what happened: the new state, `unchanged` or `stale`."""
    seen = observe(job_id, body)
    if seen.kind == "completed":
        asset_id = await deps.pool.fetchval("SELECT asset_id FROM jobs WHERE id = $1", job_id)
        if asset_id is None:
            return "stale"
        assert seen.result is not None
        if not await _outputs_stored(deps, asset_id, seen.result):
            seen = Observation("outputs_missing", execution_s=seen.execution_s, runpod_id=seen.runpod_id)
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await repository.lock_asset_of_job(conn, job_id)
        if row is None or row["job_id"] != job_id:
            await repository.set_job_outcome(conn, job_id, "superseded")
            return "stale"
        snapshot = AssetSnapshot(
            row["state"], row["attempts"] - row["attempt_floor"], row["last_submitted_at"]
        )
        transition = decide(snapshot, seen, policy_of(deps), datetime.now(UTC))
        changes: dict[str, Any] = {}
        if seen.runpod_id and row["runpod_job_id"] is None:
            changes["runpod_job_id"] = seen.runpod_id
        if transition is None:
            if seen.kind == "running" and seen.progress:
                changes.update(_progress(seen.progress))
            if changes:
                await repository.update_asset(conn, row["id"], changes)
            return "unchanged"
        changes.update(await _write(conn, deps, row, seen, transition))
        await repository.update_asset(conn, row["id"], changes)
    _count(row, seen, transition, source)
    if transition.cancel_first and (seen.runpod_id or row["runpod_job_id"]):
        await _cancel_quietly(deps, seen.runpod_id or row["runpod_job_id"])
    return transition.to


async def _outputs_stored(deps: Deps, asset_id: str, result: TranscodeResultV1) -> bool:
    """HEAD each rendition the worker reported: a COMPLETED job whose files are not there is not ready."""
    for rendition in result.renditions:
        stored = await deps.storage.head(rendition_key(rendition.name, asset_id))
        if stored is None or stored.size != rendition.size_bytes:
            return False
    if result.thumbnail is not None:
        return await deps.storage.head(thumbnail_key(asset_id)) is not None
    return True


def _progress(progress: dict[str, Any]) -> dict[str, Any]:
    percent = progress.get("percent")
    stage = progress.get("stage")
    return {
        "progress_percent": int(percent) if isinstance(percent, int | float) else None,
        "progress_stage": str(stage)[:64] if stage is not None else None,
    }


async def _write(
    conn: PgConnection, deps: Deps, row: Row, seen: Observation, transition: Transition
) -> dict[str, Any]:
    """The columns the transition sets, and its event in the outbox (same transaction)."""
    gpu_seconds = row["gpu_seconds"] + seen.execution_s
    changes: dict[str, Any] = {"last_reason": transition.reason, "gpu_seconds": gpu_seconds}
    result = seen.result
    if result is not None:
        changes.update(
            encoder=result.encoder, decoder=result.decoder, gpu_name=result.gpu.name if result.gpu else None
        )
    now = datetime.now(UTC)
    if transition.to == "running":
        changes.update(state="running", started_at=row["started_at"] or now)
        if seen.progress:
            changes.update(_progress(seen.progress))
        return changes
    await repository.set_job_outcome(conn, row["job_id"], transition.reason)
    await repository.wake_dispatchers(conn)  # a slot is free (or the asset is queued again)
    if transition.to == "queued":
        changes.update(
            state="queued", job_id=None, runpod_job_id=None, check_at=None,
            not_before=now + _seconds(transition.resubmit_after_s or 0.0),
            resubmissions=row["resubmissions"] + 1,
            error_code=transition.error_code, error_message=transition.error_message,
        )  # fmt: skip
        return changes
    changes.update(state=transition.to, check_at=None, finished_at=now)
    if transition.to == "ready":
        assert result is not None
        renditions = [
            AssetRendition(
                name=r.name,
                key=rendition_key(r.name, row["id"]),
                width=r.width,
                height=r.height,
                codec=r.codec,
                bitrate=r.bitrate,
                size_bytes=r.size_bytes,
                duration_s=r.duration_s,
            )
            for r in result.renditions
        ]
        duration = max(r.duration_s for r in result.renditions)
        thumb = thumbnail_key(row["id"]) if result.thumbnail is not None else None
        changes.update(
            renditions=[_plain(r) for r in renditions], thumbnail_key=thumb, duration_s=duration,
            progress_percent=100, progress_stage="done", error_code=None, error_message=None,
        )  # fmt: skip
        await deps.outbox.add(
            conn,
            AssetReadyV1(
                asset_id=row["id"],
                upload_id=row["upload_id"],
                owner_id=row["owner_id"],
                renditions=renditions,
                thumbnail_key=thumb,
                duration_s=duration,
                ready_at=now,
            ),
        )
        return changes
    changes.update(error_code=transition.error_code, error_message=(transition.error_message or "")[:1000])
    await deps.outbox.add(
        conn,
        AssetFailedV1(
            asset_id=row["id"],
            upload_id=row["upload_id"],
            owner_id=row["owner_id"],
            error_code=transition.error_code or "INTERNAL",
            error_message=(transition.error_message or "")[:1000],
            retryable=transition.retryable,
            failed_at=now,
        ),
    )
    return changes


def _plain(rendition: AssetRendition) -> dict[str, Any]:
    return {f: getattr(rendition, f) for f in rendition.__struct_fields__}


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def _count(row: Row, seen: Observation, transition: Transition, source: str) -> None:
    metrics.TRANSITIONS.labels(source, transition.to).inc()
    if seen.execution_s:
        metrics.GPU_SECONDS.inc(seen.execution_s)
    if transition.to == "queued":
        metrics.RESUBMISSIONS.labels(transition.reason).inc()
    if transition.to == "ready":
        metrics.TIME_TO_READY.observe((datetime.now(UTC) - row["created_at"]).total_seconds())
    _log.info(
        "asset_transition",
        asset_id=row["id"],
        job_id=row["job_id"],
        source=source,
        to=transition.to,
        reason=transition.reason,
        attempts=row["attempts"],
    )


async def _cancel_quietly(deps: Deps, runpod_id: str) -> None:
    try:
        await deps.runpod.cancel(runpod_id)
    except (RunpodUnavailable, RunpodRejected) as exc:
        _log.warning("runpod_cancel_failed", runpod_job_id=runpod_id, error=str(exc))


async def end_asset(
    conn: PgConnection,
    deps: Deps,
    row: Row,
    *,
    to: str,
    code: str,
    message: str,
    retryable: bool,
    source: str,
) -> None:
    """End an asset without a RunPod report (RunPod refused the job, an admin cancelled it): state,
    error and the failed event, in the caller's transaction."""
    now = datetime.now(UTC)
    changes = {
        "state": to, "check_at": None, "finished_at": now, "last_reason": code,
        "error_code": code, "error_message": message[:1000],
    }  # fmt: skip
    await repository.update_asset(conn, row["id"], changes)
    if row["job_id"]:
        await repository.set_job_outcome(conn, row["job_id"], code)
    await repository.wake_dispatchers(conn)
    await deps.outbox.add(
        conn,
        AssetFailedV1(
            asset_id=row["id"],
            upload_id=row["upload_id"],
            owner_id=row["owner_id"],
            error_code=code,
            error_message=message[:1000],
            retryable=retryable,
            failed_at=now,
        ),
    )
    metrics.TRANSITIONS.labels(source, to).inc()
    _log.info("asset_transition", asset_id=row["id"], source=source, to=to, reason=code)
