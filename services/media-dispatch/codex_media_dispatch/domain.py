"""Media assets and their transcode jobs: the states, and what each RunPod observation makes of them.

No I/O here. An observation is what RunPod said about one job (a `/status` body or a webhook, or 404);
`decide` turns it into a `Transition` of the asset, whoever brought the news (webhook or reconciler).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from codex_contracts.transcode import PERMANENT_CODES, TranscodeResultV1, result_from_runpod
from codex_platform.errors import Conflict, NotFound

AssetState = Literal["queued", "submitted", "running", "ready", "failed", "canceled"]
ASSET_STATES: tuple[AssetState, ...] = ("queued", "submitted", "running", "ready", "failed", "canceled")
IN_FLIGHT: frozenset[str] = frozenset({"submitted", "running"})
TERMINAL: frozenset[str] = frozenset({"ready", "failed", "canceled"})

# The seed's storage layout: one slot per rung name, whatever size the worker gives it.
RENDITION_NAMES = ("1080p", "720p")


def rendition_key(name: str, asset_id: str) -> str:
    return f"videos/{name}/{asset_id}.mp4"


def thumbnail_key(asset_id: str) -> str:
    return f"thumbnails/{asset_id}.jpg"


class AssetNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such asset")


class AssetStateConflict(Conflict):
    pass


# ---- the per-job secret of the webhook URL ----


def new_job_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """Only this is stored: a leaked table does not let anyone forge a webhook."""
    return hashlib.sha256(token.encode()).digest()


_NO_HASH = token_hash("no such job")


def token_matches(token: str, stored: bytes | None) -> bool:
    """Constant-time; an unknown job compares against a dummy so that timing tells nothing."""
    matches = hmac.compare_digest(token_hash(token), stored if stored is not None else _NO_HASH)
    return matches and stored is not None


# ---- observations ----

ObservationKind = Literal[
    "queued",  # IN_QUEUE
    "running",  # IN_PROGRESS
    "completed",  # COMPLETED with a succeeded result
    "failed",  # FAILED (or a failed result), classified by the worker's error
    "no_output",  # COMPLETED with no output (RunPod does this for a non-string error)
    "outputs_missing",  # COMPLETED, but the renditions it names are not in the store
    "timed_out",  # TIMED_OUT: executionTimeout passed
    "cancelled",  # CANCELLED by someone else
    "lost",  # /status 404: ttl deleted it, or its results expired
]


@dataclass(frozen=True)
class Observation:
    kind: ObservationKind
    result: TranscodeResultV1 | None = None
    progress: dict[str, Any] | None = None
    execution_s: float = 0.0
    runpod_id: str | None = None


def observe(job_id: str, body: dict[str, Any] | None) -> Observation:
    """What a `/status` body (or webhook payload; None for a 404) says about the job."""
    if body is None:
        return Observation("lost")
    status = body.get("status")
    runpod_id = body.get("id") if isinstance(body.get("id"), str) else None
    execution_s = _seconds(body.get("executionTime"))
    output = body.get("output")
    if status == "IN_QUEUE":
        return Observation("queued", runpod_id=runpod_id)
    if status == "IN_PROGRESS":
        progress = output if isinstance(output, dict) else None
        return Observation("running", progress=progress, runpod_id=runpod_id)
    if status == "TIMED_OUT":
        return Observation("timed_out", execution_s=execution_s, runpod_id=runpod_id)
    if status == "CANCELLED":
        return Observation("cancelled", execution_s=execution_s, runpod_id=runpod_id)
    if status == "COMPLETED" and output is None and not body.get("error"):
        return Observation("no_output", execution_s=execution_s, runpod_id=runpod_id)
    if status in ("COMPLETED", "FAILED"):
        try:
            result = result_from_runpod(job_id, body)
        except Exception:  # a shape we cannot read is the worker's fault, not the video's
            return Observation("no_output", execution_s=execution_s, runpod_id=runpod_id)
        kind: ObservationKind = "completed" if result.status == "succeeded" else "failed"
        if kind == "completed" and not result.renditions:
            kind = "no_output"
        return Observation(kind, result=result, execution_s=execution_s, runpod_id=runpod_id)
    # An unknown status: read it again later.
    return Observation("queued", runpod_id=runpod_id)


def _seconds(ms: Any) -> float:
    if isinstance(ms, int | float) and ms > 0:
        return float(ms) / 1000.0
    return 0.0


# ---- transitions ----


@dataclass(frozen=True)
class AssetSnapshot:
    """What `decide` needs of the asset row."""

    state: str
    attempts: int  # submissions since the asset was (re)queued by its creator or an admin
    last_submitted_at: datetime | None


@dataclass(frozen=True)
class Transition:
    to: AssetState
    reason: str  # why: the observation's kind, or the error code
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False
    resubmit_after_s: float | None = None  # queued again after this back-off
    cancel_first: bool = False  # cancel the job at RunPod before resubmitting (stuck in its queue)


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    retry_base_s: float
    retry_max_s: float
    stuck_in_queue_s: float


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential back-off with full jitter's upper half, so resubmissions of a burst spread out."""
    ceiling: float = min(max_s, base_s * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + secrets.randbelow(1000) / 1000 * ceiling / 2


def decide(asset: AssetSnapshot, seen: Observation, policy: Policy, now: datetime) -> Transition | None:
    """The asset's next state after `seen`; None when nothing changes."""
    if asset.state not in IN_FLIGHT:
        return None  # a late or duplicated report of a job already decided
    if seen.kind == "queued":
        stuck_since = asset.last_submitted_at
        if stuck_since is not None and now - stuck_since > timedelta(seconds=policy.stuck_in_queue_s):
            return _retry(asset, policy, "STUCK_IN_QUEUE", "no worker took the job", cancel_first=True)
        return None
    if seen.kind == "running":
        return Transition("running", "running") if asset.state == "submitted" else None
    if seen.kind == "completed":
        return Transition("ready", "completed")
    if seen.kind == "failed":
        assert seen.result is not None and seen.result.error is not None
        error = seen.result.error
        if error.code in PERMANENT_CODES or not error.retryable:
            return Transition("failed", error.code, error.code, error.message, retryable=False)
        return _retry(asset, policy, error.code, error.message)
    messages = {
        "no_output": ("NO_OUTPUT", "RunPod reported the job COMPLETED without its output"),
        "outputs_missing": ("OUTPUTS_MISSING", "the job's renditions are not in the store"),
        "timed_out": ("TIMED_OUT", "the job ran past its execution timeout"),
        "cancelled": ("CANCELLED", "the job was cancelled at RunPod"),
        "lost": ("LOST", "RunPod no longer knows the job (ttl or retention passed)"),
    }
    code, message = messages[seen.kind]
    return _retry(asset, policy, code, message)


def _retry(
    asset: AssetSnapshot, policy: Policy, code: str, message: str, *, cancel_first: bool = False
) -> Transition:
    if asset.attempts >= policy.max_attempts:
        text = f"{message} (after {asset.attempts} submissions)"
        return Transition("failed", code, code, text, retryable=True, cancel_first=cancel_first)
    delay = backoff_s(asset.attempts, policy.retry_base_s, policy.retry_max_s)
    return Transition(
        "queued", code, code, message, retryable=True, resubmit_after_s=delay, cancel_first=cancel_first
    )


def check_retry(state: str) -> None:
    """An admin's retry: only an asset that ended without its renditions."""
    if state not in ("failed", "canceled"):
        raise AssetStateConflict(f"Only a failed or canceled asset can be retried (this one is {state})")


def check_cancel(state: str) -> None:
    if state in TERMINAL:
        raise AssetStateConflict(f"The asset is already {state}")


def headline(state: str, renditions: list[str], duration_s: float | None, gpu_s: float, cost: float) -> str:
    """One line an operator reads first."""
    parts = [state]
    if renditions:
        parts.append(", ".join(renditions))
    if duration_s:
        parts.append(f"{duration_s:.1f} s of video")
    if gpu_s:
        parts.append(f"{gpu_s:.1f} GPU-s (~${cost:.4f})")
    return " · ".join(parts)
