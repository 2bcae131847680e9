"""One job of a RunPod serverless endpoint: its state, its policy, and what it answers (the /status
body, the webhook body, the payload a worker takes). The rules that move it between states are the
book's (domain.py). Pure: no I/O, no clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from codex_runpod_local.faults import NO_FAULTS, Faults


class JobStatus(StrEnum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.IN_QUEUE, JobStatus.IN_PROGRESS)


@dataclass(frozen=True)
class Policy:
    execution_timeout_ms: int
    ttl_ms: int
    low_priority: bool = False


# `None` is an output a handler may return; this marks a job that has none.
NO_OUTPUT = object()


@dataclass
class Job:
    id: str
    endpoint_id: str
    input: Any
    policy: Policy
    submitted_at: float
    webhook: str | None = None
    sync: bool = False
    faults: Faults = NO_FAULTS
    status: JobStatus = JobStatus.IN_QUEUE
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    worker_id: str | None = None
    output: Any = NO_OUTPUT
    progress: Any = NO_OUTPUT  # the last progress_update, shown as `output` while IN_PROGRESS
    error: str | None = None
    retries: int = 0
    executions: int = 0  # times a worker has taken it (2 under the executeTwice fault)
    stream: list[Any] = field(default_factory=list)
    forget_at: float | None = None

    @property
    def has_output(self) -> bool:
        return self.output is not NO_OUTPUT

    def expired(self, now: float) -> bool:
        """Past its ttl, which covers the job's whole life from submission, whatever its state."""
        return now - self.submitted_at >= self.policy.ttl_ms / 1000

    def status_body(self, now: float) -> dict[str, Any]:
        """What GET /status/{id} answers (and, with the input, what the webhook carries)."""
        body: dict[str, Any] = {"id": self.id, "status": self.status.value}
        if self.started_at is not None:
            body["delayTime"] = _ms(self.started_at - self.queued_at)
            body["executionTime"] = _ms((self.finished_at or now) - self.started_at)
        elif self.finished_at is not None:
            body["delayTime"] = _ms(self.finished_at - self.queued_at)
        if self.worker_id is not None:
            body["workerId"] = self.worker_id
        if self.has_output:
            body["output"] = self.output
        elif self.status is JobStatus.IN_PROGRESS and self.progress is not NO_OUTPUT:
            body["output"] = self.progress
        if self.error is not None:
            body["error"] = self.error
        return body

    def webhook_body(self, now: float) -> dict[str, Any]:
        # The cloud's webhook: the /status body, the input, and the webhook URL itself.
        return {**self.status_body(now), "input": self.input, "webhook": self.webhook}

    def worker_payload(self) -> dict[str, Any]:
        """What job-take hands the SDK's worker loop (it requires `id` and `input`)."""
        return {"id": self.id, "input": self.input}


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def new_job_id(sync: bool) -> str:
    # Cloud ids read `<uuid>-<region>`, synchronous ones `sync-<uuid>-<region>`.
    return f"{'sync-' if sync else ''}{uuid.uuid4()}-u1"
