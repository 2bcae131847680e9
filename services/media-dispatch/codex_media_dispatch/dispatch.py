"""The dispatcher: submits queued assets to RunPod, oldest first, never more than `max_in_flight` at once.

An asset is claimed (state `submitted`, a new job id and webhook secret) in one short transaction, then
submitted outside it, so no database transaction waits on RunPod. If RunPod does not take the job (429,
5xx, no answer) the claim is released: the asset is queued again in its place, after `Retry-After` or a
back-off. If the process dies between the claim and RunPod's answer, the reconciler finds the claim
without a RunPod id after `submit_grace_s` and queues the asset again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import msgspec
import structlog

from codex_contracts.transcode import DEFAULT_LADDER, TranscodeJobV1
from codex_media_dispatch import metrics, repository
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.domain import backoff_s, new_job_token, rendition_key, thumbnail_key, token_hash
from codex_media_dispatch.repository import Claimed
from codex_media_dispatch.runpod import RunpodRejected, RunpodUnavailable
from codex_media_dispatch.transitions import end_asset

_log = structlog.stdlib.get_logger("codex_media_dispatch")

CLAIM_BATCH = 50
"""Claimed and submitted together at most: short claim transactions, and /run calls in parallel."""


async def submit_waiting(deps: Deps) -> int:
    """Claim and submit as many queued assets as there are free slots; how many were claimed."""
    s = deps.settings
    tokens: dict[str, str] = {}

    def new_job() -> tuple[str, bytes]:
        job_id, token = f"job_{uuid.uuid4().hex}", new_job_token()
        tokens[job_id] = token
        return job_id, token_hash(token)

    async with deps.pool.acquire() as conn, conn.transaction():
        claimed = await repository.claim_for_submission(
            conn, max_in_flight=s.max_in_flight, limit=CLAIM_BATCH, new_job=new_job, grace_s=s.submit_grace_s
        )
    await asyncio.gather(*(submit(deps, c, tokens[c.job_id]) for c in claimed))
    return len(claimed)


async def transcode_job(deps: Deps, claimed: Claimed) -> TranscodeJobV1:
    """The job's input: presigned URLs that outlive the job's ttl at RunPod."""
    lifetime = deps.settings.presign_s
    source = await deps.source_storage(claimed.bucket)
    outputs = {
        rung.name: await deps.storage.presign_put(
            rendition_key(rung.name, claimed.asset_id), content_type="video/mp4", expires_in=lifetime
        )
        for rung in DEFAULT_LADDER
    }
    return TranscodeJobV1(
        job_id=claimed.job_id,
        asset_id=claimed.asset_id,
        source_url=await source.presign_get(claimed.source_key, expires_in=lifetime),
        outputs=outputs,
        thumbnail_url=await deps.storage.presign_put(
            thumbnail_key(claimed.asset_id), content_type="image/jpeg", expires_in=lifetime
        ),
    )


def webhook_url(deps: Deps, job_id: str, token: str) -> str:
    return f"{deps.settings.public_url.rstrip('/')}/webhooks/runpod/{job_id}?token={token}"


async def submit(deps: Deps, claimed: Claimed, token: str) -> None:
    s = deps.settings
    log = _log.bind(asset_id=claimed.asset_id, job_id=claimed.job_id, attempt=claimed.attempt)
    try:
        job = await transcode_job(deps, claimed)
        runpod_id = await deps.runpod.run(
            msgspec.to_builtins(job),
            webhook=webhook_url(deps, claimed.job_id, token),
            execution_timeout_ms=s.execution_timeout_s * 1000,
            ttl_ms=s.job_ttl_s * 1000,
        )
    except RunpodUnavailable as exc:
        delay = exc.retry_after_s
        if delay is None:
            delay = backoff_s(claimed.submit_failures + 1, s.retry_base_s, s.retry_max_s)
        metrics.RUN_REFUSED.labels(str(exc.status or "no-answer")).inc()
        log.warning("runpod_run_deferred", error=str(exc), retry_in_s=round(delay, 2))
        await repository.release_claim(deps.pool, claimed, delay, "RUN_UNAVAILABLE")
        return
    except RunpodRejected as exc:
        metrics.RUN_REFUSED.labels(str(exc.status)).inc()
        if exc.status in (401, 403):
            # Our key or endpoint is wrong: no asset's fault. Keep the asset; an operator must act.
            log.error("runpod_run_unauthorized", status=exc.status)
            await repository.release_claim(deps.pool, claimed, s.retry_max_s, "RUN_UNAUTHORIZED")
            return
        log.error("runpod_run_rejected", status=exc.status, error=str(exc))
        await _fail_claim(deps, claimed, str(exc))
        return
    except Exception as exc:
        # Presigning or encoding failed: leave it to the back-off rather than lose the claim.
        log.exception("runpod_run_failed", error_type=type(exc).__name__)
        await repository.release_claim(deps.pool, claimed, s.retry_base_s, "SUBMIT_ERROR")
        return
    metrics.SUBMISSIONS.inc()
    if claimed.attempt == 1:
        metrics.TIME_IN_QUEUE.observe(claimed.waited_s)
    await repository.record_runpod_id(deps.pool, claimed, runpod_id, s.poll_interval_s)
    log.info("runpod_job_submitted", runpod_job_id=runpod_id)


async def _fail_claim(deps: Deps, claimed: Claimed, message: str) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        row = await repository.lock_asset(conn, claimed.asset_id)
        if row is not None and row["job_id"] == claimed.job_id and row["state"] == "submitted":
            await end_asset(
                conn, deps, row, to="failed", code="SUBMIT_REJECTED", message=message,
                retryable=False, source="dispatcher",
            )  # fmt: skip


async def run_dispatcher(deps: Deps) -> None:
    """Submit whenever a slot frees or an asset is queued (NOTIFY from any replica), and at least
    every `dispatch_interval_s` (back-offs ending). Runs until cancelled."""
    wake = asyncio.Event()
    schema = deps.settings.db_schema

    def on_notify(*args: Any) -> None:
        if args[-1] == schema:
            wake.set()

    async with deps.pool.acquire() as listener:
        await listener.add_listener(repository.WAKE_CHANNEL, on_notify)
        try:
            while True:
                wake.clear()
                try:
                    if await submit_waiting(deps):
                        continue
                except Exception as exc:
                    _log.exception("dispatch_failed", error_type=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), deps.settings.dispatch_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(repository.WAKE_CHANNEL, on_notify)
