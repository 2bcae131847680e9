"""The running endpoints: the pure job books plus a clock, long-poll wake-ups, webhooks, fault switches
and the sweeper that times jobs out. One asyncio loop owns all of it, so no locks are needed; the state
lives in this process's memory and is gone when it stops (a development stand-in, not a datastore).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from codex_runpod_local.domain import JobBook, JobNotFound, Transition
from codex_runpod_local.faults import FaultBook, FaultRuleSpec, Faults, Route, RouteFault
from codex_runpod_local.job import Job, JobStatus, Policy, new_job_id
from codex_runpod_local.settings import Settings
from codex_runpod_local.webhooks import WebhookSender

log = logging.getLogger("codex_runpod_local")
T = TypeVar("T")


class EndpointNotFound(LookupError):
    pass


class InvalidRequest(ValueError):
    pass


class InjectedFailure(Exception):
    """A fault switch makes a cloud route answer with an error (429 or 5xx, maybe with Retry-After)."""

    def __init__(self, fault: RouteFault, route: str) -> None:
        super().__init__(f"{route}: HTTP {fault.status} (fault switch {fault.rule_id})")
        self.fault = fault


# Workers not seen for this long leave the list (/_admin/workers, /health), and it holds at most
# MAX_WORKERS_SEEN: a long-running stand-in with restarting workers must not grow without bound.
WORKER_FORGET_S = 600.0
MAX_WORKERS_SEEN = 1000


@dataclass
class Endpoints:
    settings: Settings
    webhooks: WebhookSender
    faults: FaultBook = field(default_factory=FaultBook)
    clock: Callable[[], float] = time.monotonic
    books: dict[str, JobBook] = field(default_factory=dict)
    workers_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    pings: dict[tuple[str, str], int] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: bool = False

    def __post_init__(self) -> None:
        for endpoint_id in self.settings.endpoints:
            self.books[endpoint_id] = JobBook(
                endpoint_id, self.settings.retention_s, self.settings.sync_retention_s
            )
        for raw in self.settings.faults:
            self.faults.add(_spec(raw))

    # ---- the cloud API ----
    def check_route(self, endpoint_id: str, route: Route, job_id: str | None = None) -> RouteFault | None:
        """Raise the failure a fault switch puts on this request; a fault that lets a /run submit
        first (failAfterSubmit) is returned for the route to raise after it."""
        self.book(endpoint_id)
        fault = self.faults.route_fault(endpoint_id, route, job_id)
        if fault is None:
            return None
        if fault.after_submit and route in ("run", "runsync"):
            return fault
        raise InjectedFailure(fault, route)

    def book(self, endpoint_id: str) -> JobBook:
        try:
            return self.books[endpoint_id]
        except KeyError:
            raise EndpointNotFound(endpoint_id) from None

    def submit(
        self,
        endpoint_id: str,
        job_input: Any,
        webhook: str | None,
        policy: dict[str, Any] | None,
        *,
        sync: bool,
    ) -> Job:
        book = self.book(endpoint_id)
        now = self.clock()
        job = Job(
            id=new_job_id(sync),
            endpoint_id=endpoint_id,
            input=job_input,
            policy=self._policy(policy or {}),
            submitted_at=now,
            webhook=webhook,
            sync=sync,
            faults=self.faults.bind_new_job(endpoint_id),
        )
        book.submit(job)
        self._wake()
        return job

    async def wait_until_done(self, job: Job, wait_s: float) -> None:
        await self._wait(lambda: job.status.terminal or None, wait_s)

    def status(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        self.tick()
        return self.book(endpoint_id).get(job_id).status_body(self.clock())

    def stream(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        self.tick()
        job = self.book(endpoint_id).get(job_id)
        return {"status": job.status.value, "stream": [{"output": p} for p in job.stream]}

    def cancel(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        self.tick()
        book = self.book(endpoint_id)
        self._after(book.cancel(job_id, self.clock()))
        job = book.get(job_id)
        return {"id": job.id, "status": job.status.value}

    def retry(self, endpoint_id: str, job_id: str) -> dict[str, Any]:
        self.tick()
        job = self.book(endpoint_id).retry(job_id, self.clock())
        self._wake()
        return {"id": job.id, "status": job.status.value}

    def purge_queue(self, endpoint_id: str) -> dict[str, Any]:
        self.tick()
        removed = self.book(endpoint_id).purge_queue()
        self._wake()
        return {"removed": removed, "status": "completed"}

    def health(self, endpoint_id: str, initializing: int = 0) -> dict[str, Any]:
        self.tick()
        book = self.book(endpoint_id)
        now = self.clock()
        seen = {
            worker
            for (endpoint, worker), at in self.workers_seen.items()
            if endpoint == endpoint_id and now - at <= self.settings.worker_seen_window_s
        }
        running = book.busy_workers()
        # The cloud's worker fields. Here every worker that polls is ready: idle (ready, no job) or
        # running; none is throttled (no host shortage) and none unhealthy (a dead one is restarted).
        return {
            "jobs": book.counts(),
            "workers": {
                "idle": len(seen - running),
                "initializing": initializing,
                "ready": len(seen - running),
                "running": len(running),
                "throttled": 0,
                "unhealthy": 0,
            },
        }

    # ---- the worker-facing routes ----
    async def take(self, endpoint_id: str, worker_id: str, limit: int) -> list[Job]:
        book = self.book(endpoint_id)
        self._seen(endpoint_id, worker_id)

        def take_some() -> list[Job] | None:
            self.tick()
            return book.take(worker_id, self.clock(), limit) or None

        taken = await self._wait(take_some, self.settings.worker_poll_wait_s)
        self._seen(endpoint_id, worker_id)
        return taken or []

    async def stop_signals(self, endpoint_id: str, worker_id: str) -> list[str]:
        book = self.book(endpoint_id)
        self._seen(endpoint_id, worker_id)
        signals = await self._wait(
            lambda: book.take_stop_signals(worker_id, self.clock()) or None, self.settings.worker_poll_wait_s
        )
        return signals or []

    def finish(self, endpoint_id: str, worker_id: str, job_id: str, result: dict[str, Any]) -> bool:
        self.tick()
        book = self.book(endpoint_id)
        self._seen(endpoint_id, worker_id)
        if result.get("status") == "IN_PROGRESS":
            return book.report_progress(job_id, worker_id, result.get("output"))
        job = book.jobs.get(job_id)
        faults = self.faults.for_job(job_id, job.faults) if job else Faults()
        transition = book.finish(
            job_id, worker_id, result, self.clock(), drop_output=faults.complete_without_output
        )
        if transition is None:
            log.info("late or unknown result for %s from %s ignored", job_id, worker_id)
            return False
        self._after(transition)  # the first run's webhook leaves with the first run's result
        if faults.execute_twice and transition.job.executions == 1:
            log.info("job %s handed out again (executeTwice fault switch)", job_id)
            book.execute_again(job_id, self.clock())
            self._wake()
        return True

    def add_stream(self, endpoint_id: str, worker_id: str, job_id: str, partial: Any) -> bool:
        self._seen(endpoint_id, worker_id)
        return self.book(endpoint_id).add_stream(job_id, worker_id, partial)

    def ping(self, endpoint_id: str, worker_id: str, running: set[str]) -> None:
        self.book(endpoint_id).worker_running(worker_id, running, self.clock())
        self._seen(endpoint_id, worker_id)
        self.pings[(endpoint_id, worker_id)] = self.pings.get((endpoint_id, worker_id), 0) + 1

    def seen_workers(self) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            {
                "endpointId": endpoint,
                "workerId": worker,
                "lastSeenSecondsAgo": round(now - at, 3),
                "pings": self.pings.get((endpoint, worker), 0),
                "jobs": self.books[endpoint].worker_jobs(worker),
            }
            for (endpoint, worker), at in sorted(self.workers_seen.items())
        ]

    # ---- time ----
    def tick(self) -> None:
        now = self.clock()
        for book in self.books.values():
            for transition in book.tick(now):
                self._after(transition)
        self._forget_workers(now)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            self.tick()

    def close(self) -> None:
        """Answer every held poll now (shutdown)."""
        self._closing = True
        self._wake()

    # ---- internals ----
    def _after(self, transitions: Transition | Iterable[Transition] | None) -> None:
        if transitions is None:
            return
        for transition in [transitions] if isinstance(transitions, Transition) else transitions:
            job = transition.job
            faults = self.faults.for_job(job.id, job.faults)
            log.info("job %s %s", job.id, job.status.value)
            if job.webhook:
                self.webhooks.send(job.webhook, job.webhook_body(self.clock()), faults)
            if faults.forget_after_s is not None:
                # the next tick (every read ticks first) deletes it
                self.book(job.endpoint_id).forget_later(job.id, self.clock() + faults.forget_after_s)
        self._wake()

    def _policy(self, raw: dict[str, Any]) -> Policy:
        s = self.settings
        timeout = int(raw.get("executionTimeout") or s.default_execution_timeout_ms)
        ttl = int(raw.get("ttl") or s.default_ttl_ms)
        if not s.min_execution_timeout_ms <= timeout <= s.max_execution_timeout_ms:
            raise InvalidRequest(
                f"policy.executionTimeout must be between {s.min_execution_timeout_ms} and "
                f"{s.max_execution_timeout_ms} ms"
            )
        if not s.min_ttl_ms <= ttl <= s.max_ttl_ms:
            raise InvalidRequest(f"policy.ttl must be between {s.min_ttl_ms} and {s.max_ttl_ms} ms")
        return Policy(
            execution_timeout_ms=timeout, ttl_ms=ttl, low_priority=bool(raw.get("lowPriority", False))
        )

    def _seen(self, endpoint_id: str, worker_id: str) -> None:
        self.workers_seen[(endpoint_id, worker_id)] = self.clock()

    def _forget_workers(self, now: float) -> None:
        gone = [key for key, at in self.workers_seen.items() if now - at > WORKER_FORGET_S]
        if len(self.workers_seen) - len(gone) > MAX_WORKERS_SEEN:  # the oldest go first
            by_age = sorted(self.workers_seen.items(), key=lambda item: item[1])
            gone += [key for key, _ in by_age[: len(self.workers_seen) - MAX_WORKERS_SEEN]]
        for key in gone:
            self.workers_seen.pop(key, None)
            self.pings.pop(key, None)

    def _wake(self) -> None:
        # Waiters hold the old event; setting it wakes them all, the next ones wait on a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, ready: Callable[[], T | None], wait_s: float) -> T | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            result = ready()
            remaining = deadline - loop.time()
            if result is not None or remaining <= 0 or self._closing:
                return result
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                # also wakes at the sweeper's pace, so time-based changes are seen
                await asyncio.wait_for(changed.wait(), min(remaining, self.settings.sweep_interval_s))


def _spec(raw: dict[str, Any]) -> FaultRuleSpec:
    return msgspec.convert(raw, FaultRuleSpec)


__all__ = ["EndpointNotFound", "Endpoints", "InjectedFailure", "InvalidRequest", "JobNotFound", "JobStatus"]
