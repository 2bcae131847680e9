"""The jobs of a RunPod serverless endpoint: the queue, the rules between states, stop signals and
retention (the job itself is job.py).

Pure: no I/O, no clock (every call takes ``now``, in seconds of a monotonic clock). The runtime calls
these methods, then does what the returned transitions ask (webhooks, stop signals, wake-ups).

States as the cloud has them (https://docs.runpod.io/serverless/endpoints/job-states)::

    IN_QUEUE ── taken by a worker ──► IN_PROGRESS ──► COMPLETED | FAILED
       │                                 │  executionTimeout ──► TIMED_OUT (worker stopped)
       │                                 └─ cancel ──► CANCELLED
       └─ cancel ──► CANCELLED,  purge-queue ──► gone
    FAILED | TIMED_OUT ── retry ──► IN_QUEUE (output and error cleared)
    any state ── ttl (from submission) ──► gone: /status answers 404, no webhook, a worker is stopped

A terminal job is kept for the retention period (30 min for /run, 1 min for /runsync), then forgotten,
or sooner when its ttl ends first. ttl covers the whole life of a job, queue and run and retention, and
is not reset by a retry ("TTL set at job submission ... not reset at execution start": runpod/docs#525).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from codex_runpod_local.job import NO_OUTPUT, Job, JobStatus

RETRYABLE = (JobStatus.FAILED, JobStatus.TIMED_OUT)


class JobNotFound(LookupError):
    pass


class JobNotRetryable(ValueError):
    pass


@dataclass
class StopSignal:
    """A worker must stop a job (cancelled, timed out). Re-sent until the worker shows it stopped:
    the SDK drops a signal that arrives between its job-take and the start of the job's task."""

    job_id: str
    since: float
    sent_at: float | None = None


STOP_RESEND_S = 1.0
STOP_GRACE_S = 2.0  # a heartbeat this fresh may predate the job; it proves nothing yet
STOP_GIVE_UP_S = 30.0


@dataclass(frozen=True)
class Transition:
    """A job reached a terminal state; the runtime sends its webhook and stops its worker."""

    job: Job
    stop_worker: str | None = None  # the worker still running it, told to stop


@dataclass
class JobBook:
    """The jobs of one endpoint."""

    endpoint_id: str
    retention_s: float
    sync_retention_s: float
    jobs: dict[str, Job] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    stop_signals: dict[str, dict[str, StopSignal]] = field(default_factory=dict)
    retried: int = 0

    # ---- clients ----
    def submit(self, job: Job) -> Job:
        job.queued_at = job.submitted_at
        self.jobs[job.id] = job
        self.queue.append(job.id)
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def cancel(self, job_id: str, now: float) -> Transition | None:
        job = self.get(job_id)
        if job.status.terminal:
            return None
        return self._end(job, JobStatus.CANCELLED, now)

    def retry(self, job_id: str, now: float) -> Job:
        job = self.get(job_id)
        if job.status not in RETRYABLE:
            raise JobNotRetryable(f"job {job_id} is {job.status.value}; only FAILED or TIMED_OUT jobs retry")
        # "When a job is retried, the previous output is removed."
        job.status = JobStatus.IN_QUEUE
        job.queued_at = now
        job.started_at = job.finished_at = job.worker_id = job.error = job.forget_at = None
        job.output = job.progress = NO_OUTPUT
        job.stream.clear()
        job.retries += 1
        self.retried += 1
        self.queue.append(job.id)
        return job

    def execute_again(self, job_id: str, now: float) -> None:
        """The executeTwice fault: a job that ended is handed out once more, as a platform that lost
        track of a worker's acknowledgement would; its client sees two runs and two webhooks."""
        job = self.jobs.get(job_id)
        if job is None or job.status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            return
        job.status = JobStatus.IN_QUEUE
        job.queued_at = now
        job.started_at = job.finished_at = job.worker_id = job.error = job.forget_at = None
        job.output = job.progress = NO_OUTPUT
        self.queue.append(job.id)

    def purge_queue(self) -> int:
        removed = 0
        for job_id in self.queue:
            job = self.jobs.get(job_id)
            if job is not None and job.status is JobStatus.IN_QUEUE:
                del self.jobs[job_id]
                removed += 1
        self.queue.clear()
        return removed

    # ---- workers ----
    def take(self, worker_id: str, now: float, limit: int = 1) -> list[Job]:
        taken: list[Job] = []
        while self.queue and len(taken) < limit:
            job = self.jobs.get(self.queue.popleft())
            if job is None or job.status is not JobStatus.IN_QUEUE:
                continue
            job.status = JobStatus.IN_PROGRESS
            job.started_at = now
            job.worker_id = worker_id
            job.executions += 1
            # A worker that takes a job runs nothing else (the runner takes one job at a time), so a
            # signal still pending to it for this id (a timeout before a retry) is for a run that is
            # over: re-sent, it would stop this one. Other workers' signals stay: their old runs may
            # still be going.
            self.stop_signals.get(worker_id, {}).pop(job.id, None)
            taken.append(job)
        return taken

    def has_queued(self) -> bool:
        return any(
            (job := self.jobs.get(job_id)) is not None and job.status is JobStatus.IN_QUEUE
            for job_id in self.queue
        )

    def finish(
        self, job_id: str, worker_id: str, result: dict[str, Any], now: float, *, drop_output: bool = False
    ) -> Transition | None:
        """A worker's job-done. Results for a job it no longer holds (cancelled, timed out, retried
        elsewhere, forgotten) are ignored, as the cloud ignores a late worker."""
        self.stop_signals.get(worker_id, {}).pop(job_id, None)  # it is not running it any more
        job = self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS or job.worker_id != worker_id:
            return None
        error = result.get("error")
        if error and not isinstance(error, str):
            # The cloud takes a job's error as a string only; a handler that returns another type ends
            # COMPLETED with no output and no error (runpod-python issue 299). Clients must cope.
            return self._end(job, JobStatus.COMPLETED, now)
        if error:
            job.error = error
            if "output" in result:
                job.output = result["output"]
            return self._end(job, JobStatus.FAILED, now)
        if "output" in result and not drop_output:
            job.output = result["output"]
        return self._end(job, JobStatus.COMPLETED, now)

    def report_progress(self, job_id: str, worker_id: str, progress: Any) -> bool:
        """`runpod.serverless.progress_update`: posted to job-done with status IN_PROGRESS, from a
        thread of its own, so one may land after the final result; then it is ignored."""
        job = self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS or job.worker_id != worker_id:
            return False
        job.progress = progress
        return True

    def add_stream(self, job_id: str, worker_id: str, partial: Any) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS or job.worker_id != worker_id:
            return False
        job.stream.append(partial)
        return True

    def take_stop_signals(self, worker_id: str, now: float) -> list[str]:
        """The jobs this worker must stop now: new signals, and old ones due to be sent again."""
        pending = self.stop_signals.get(worker_id, {})
        due = []
        for signal in list(pending.values()):
            if now - signal.since >= STOP_GIVE_UP_S:
                del pending[signal.job_id]
            elif signal.sent_at is None or now - signal.sent_at >= STOP_RESEND_S:
                signal.sent_at = now
                due.append(signal.job_id)
        return due

    def worker_running(self, worker_id: str, job_ids: set[str], now: float) -> None:
        """A worker's heartbeat listed the jobs it runs: a stop signal for any other job is done."""
        pending = self.stop_signals.get(worker_id, {})
        for signal in list(pending.values()):
            if signal.job_id not in job_ids and now - signal.since >= STOP_GRACE_S:
                del pending[signal.job_id]

    def worker_jobs(self, worker_id: str) -> list[str]:
        return [
            j.id for j in self.jobs.values() if j.status is JobStatus.IN_PROGRESS and j.worker_id == worker_id
        ]

    # ---- time ----
    def tick(self, now: float) -> list[Transition]:
        """Delete jobs past their ttl, time out those past their executionTimeout, and forget those
        past retention (or a forget fault)."""
        ended: list[Transition] = []
        for job in list(self.jobs.values()):
            if job.expired(now):
                self._delete_expired(job, now)
            elif (
                job.status is JobStatus.IN_PROGRESS
                and job.started_at is not None
                and now - job.started_at >= job.policy.execution_timeout_ms / 1000
            ):
                ended.append(self._end(job, JobStatus.TIMED_OUT, now, error="execution timeout exceeded"))
            elif job.status.terminal and job.forget_at is not None and now >= job.forget_at:
                del self.jobs[job.id]
        return ended

    def forget_later(self, job_id: str, at: float) -> None:
        job = self.jobs.get(job_id)
        if job is not None and job.status.terminal:
            job.forget_at = min(job.forget_at or at, at)

    # ---- /health ----
    def counts(self) -> dict[str, int]:
        by_status = {status: 0 for status in JobStatus}
        for job in self.jobs.values():
            by_status[job.status] += 1
        return {
            "completed": by_status[JobStatus.COMPLETED],
            "failed": by_status[JobStatus.FAILED] + by_status[JobStatus.TIMED_OUT],
            "inProgress": by_status[JobStatus.IN_PROGRESS],
            "inQueue": by_status[JobStatus.IN_QUEUE],
            "retried": self.retried,
        }

    def busy_workers(self) -> set[str]:
        return {j.worker_id for j in self.jobs.values() if j.status is JobStatus.IN_PROGRESS and j.worker_id}

    def _delete_expired(self, job: Job, now: float) -> None:
        if job.status is JobStatus.IN_PROGRESS and job.worker_id is not None:
            self.stop_signals.setdefault(job.worker_id, {})[job.id] = StopSignal(job.id, since=now)
        del self.jobs[job.id]  # its queue entry, if any, is skipped by take()

    def _end(self, job: Job, status: JobStatus, now: float, *, error: str | None = None) -> Transition:
        running_on = job.worker_id if job.status is JobStatus.IN_PROGRESS else None
        job.status = status
        job.finished_at = now
        if error is not None:
            job.error = error
        retention = self.sync_retention_s if job.sync else self.retention_s
        job.forget_at = now + retention
        if status is JobStatus.CANCELLED or status is JobStatus.TIMED_OUT:
            if running_on is not None:
                self.stop_signals.setdefault(running_on, {})[job.id] = StopSignal(job.id, since=now)
            return Transition(job, stop_worker=running_on)
        return Transition(job)
