"""The reconciler: reads `/status` of in-flight jobs whose news is overdue and applies it like a webhook.

RunPod's webhooks are unsigned, retried only a few times, sometimes duplicated and sometimes never sent,
and results vanish 30 minutes after a job ends. So every in-flight asset has a `check_at`: set
`poll_interval_s` ahead at submission and after each read, far inside that retention. Due rows are
leased with `FOR UPDATE SKIP LOCKED` (the lease is the next `check_at`), so replicas share the work
and never read one job twice at once; the transition itself goes through `transitions.apply_report`,
whose row lock keeps a webhook arriving meanwhile from applying it a second time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from codex_media_dispatch import repository
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.repository import Row
from codex_media_dispatch.runpod import RunpodRejected, RunpodUnavailable
from codex_media_dispatch.transitions import apply_report

_log = structlog.stdlib.get_logger("codex_media_dispatch")

_CONCURRENCY = 8


async def reconcile_once(deps: Deps) -> int:
    """Check every due job once; how many were due."""
    s = deps.settings
    async with deps.pool.acquire() as conn, conn.transaction():
        due = await repository.claim_due(conn, limit=s.reconcile_batch, lease_s=s.poll_interval_s)
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def guarded(row: Row) -> None:
        async with gate:
            try:
                await check(deps, row)
            except Exception as exc:
                _log.exception("reconcile_failed", asset_id=row["id"], error_type=type(exc).__name__)

    await asyncio.gather(*(guarded(row) for row in due))
    return len(due)


async def check(deps: Deps, row: Row) -> None:
    job_id = row["job_id"]
    if row["runpod_job_id"] is None:
        # Claimed `submit_grace_s` ago and RunPod's answer never recorded: the submitter died between
        # the claim and /run's answer. Whether RunPod has the job is unknown; treat it as lost.
        await apply_report(deps, job_id, None, source="reconciler")
        return
    try:
        body = await deps.runpod.status(row["runpod_job_id"])
    except (RunpodUnavailable, RunpodRejected) as exc:
        # The lease already moved check_at on; the next read comes then, or after Retry-After.
        _log.warning("runpod_status_unavailable", asset_id=row["id"], error=str(exc))
        if isinstance(exc, RunpodUnavailable) and exc.retry_after_s:
            await repository.defer_check(deps.pool, row["id"], exc.retry_after_s)
        return
    if body is not None and body.get("status") == "IN_QUEUE" and _stalled(deps, row):
        await _log_health(deps, row)
    await apply_report(deps, job_id, body, source="reconciler")


def _stalled(deps: Deps, row: Row) -> bool:
    since = row["last_submitted_at"]
    limit = timedelta(seconds=deps.settings.stuck_in_queue_s)
    return since is not None and datetime.now(UTC) - since > limit


async def _log_health(deps: Deps, row: Row) -> None:
    """Why is nothing running? RunPod's own view of the endpoint's workers, for the operator."""
    try:
        health = await deps.runpod.health()
    except (RunpodUnavailable, RunpodRejected) as exc:
        health = {"unavailable": str(exc)}
    _log.warning("runpod_job_stalled", asset_id=row["id"], runpod_job_id=row["runpod_job_id"], health=health)


async def run_reconciler(deps: Deps) -> None:
    """Until cancelled: every `reconcile_interval_s`, or at once while a batch came back full."""
    while True:
        try:
            due = await reconcile_once(deps)
        except Exception as exc:
            _log.exception("reconcile_round_failed", error_type=type(exc).__name__)
            due = 0
        if due < deps.settings.reconcile_batch:
            await asyncio.sleep(deps.settings.reconcile_interval_s)
