"""Webhook delivery as the cloud does it: on a terminal state, POST the /status body (with the input and
the webhook URL) to the job's webhook URL; anything but a 200, or no answer within the timeout (2 s by
default), is retried, 3 attempts 10 s apart by default ("Your webhook should return a 200 status code
to acknowledge receipt"). RunPod does not sign webhooks, so neither do we. Fault switches can drop,
duplicate or delay a delivery. The log of attempts keeps the last LOG_SIZE of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from codex_runpod_local.faults import Faults

log = logging.getLogger("codex_runpod_local.webhooks")
LOG_SIZE = 1000


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST (or one deliberate non-POST) of a webhook, kept for /_admin/webhooks."""

    job_id: str
    url: str
    status: str  # the job status the payload carried
    attempt: int  # 1-based within a delivery; 0 for a dropped one
    copy: int  # 1, or 2 for the duplicate
    outcome: str  # "delivered", "rejected", "error", "dropped"
    http_status: int | None
    error: str | None
    at: float  # wall clock, seconds


class WebhookSender:
    def __init__(self, *, attempts: int, interval_s: float, timeout_s: float) -> None:
        self.attempts = max(1, attempts)
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.log: deque[DeliveryAttempt] = deque(maxlen=LOG_SIZE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout_s, headers={"User-Agent": "codex-runpod-local"}, follow_redirects=False
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def send(self, url: str, payload: dict[str, Any], faults: Faults) -> None:
        """Schedule the delivery of one job's webhook; returns at once."""
        task = asyncio.create_task(self._deliver(url, payload, faults))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def attempts_for(self, job_id: str | None = None) -> list[DeliveryAttempt]:
        return [a for a in self.log if job_id is None or a.job_id == job_id]

    async def _deliver(self, url: str, payload: dict[str, Any], faults: Faults) -> None:
        job_id, status = str(payload.get("id")), str(payload.get("status"))
        if faults.drop_webhook:
            log.info("webhook for %s dropped (fault switch)", job_id)
            self.log.append(DeliveryAttempt(job_id, url, status, 0, 1, "dropped", None, None, time.time()))
            return
        if faults.delay_webhook_s:
            await asyncio.sleep(faults.delay_webhook_s)
        for copy in (1, 2) if faults.duplicate_webhook else (1,):
            await self._post_with_retries(url, payload, job_id, status, copy)

    async def _post_with_retries(
        self, url: str, payload: dict[str, Any], job_id: str, status: str, copy: int
    ) -> None:
        assert self._client is not None, "WebhookSender.start() was not awaited"
        for attempt in range(1, self.attempts + 1):
            http_status: int | None = None
            error: str | None = None
            try:
                response = await self._client.post(url, json=payload)
                http_status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = http_status == 200  # a 204 or a 202 is not the acknowledgement the cloud wants
            outcome = "delivered" if ok else ("rejected" if http_status is not None else "error")
            self.log.append(
                DeliveryAttempt(job_id, url, status, attempt, copy, outcome, http_status, error, time.time())
            )
            if ok:
                return
            log.warning(
                "webhook for %s attempt %d/%d: %s", job_id, attempt, self.attempts, error or http_status
            )
            if attempt < self.attempts:
                await asyncio.sleep(self.interval_s)
        log.error("webhook for %s not delivered after %d attempts", job_id, self.attempts)
