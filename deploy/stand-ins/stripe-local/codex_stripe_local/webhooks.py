"""Webhook delivery as Stripe does it (https://docs.stripe.com/webhooks): each event POSTed as JSON to
the endpoint with `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the
whsec_ secret>`; anything but a 2xx (or no answer) is retried with exponential back-off, each attempt
signed afresh. First attempts go out in the order events happened; retries, delays and the fault
switches (faults.py) break that order, as Stripe's own delivery does."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from codex_stripe_local.faults import Faults
from codex_stripe_local.settings import Settings

__all__ = ["DeliveryAttempt", "WebhookSender", "sign"]

log = logging.getLogger("codex_stripe_local.webhooks")


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header of `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    attempt: int  # 1-based; 0 for a dropped event
    outcome: str  # delivered, rejected, error, dropped, no-endpoint
    http_status: int | None
    at: float


class WebhookSender:
    def __init__(self, settings: Settings, faults: Faults) -> None:
        self.settings = settings
        self.url = settings.webhook_url
        self.secret = settings.webhook_secret
        self.faults = faults
        self.log: list[DeliveryAttempt] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._held: list[dict[str, Any]] = []
        self._in_flight = 0  # deliveries the dispatcher is sending now
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._dispatcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_s,
            headers={"User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
            follow_redirects=False,
        )
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def publish(self, event: dict[str, Any]) -> None:
        """Queue an event for delivery (called by the ledger as things happen)."""
        self._queue.put_nowait(event)

    def resend(self, event: dict[str, Any]) -> None:
        """Send an event again now, outside the fault switches (the dashboard's "Resend")."""
        self._spawn(self._deliver(event, 1))

    def idle(self) -> bool:
        return self._queue.empty() and not self._held and not self._tasks and not self._in_flight

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self) -> None:
        while True:
            event = await self._queue.get()
            self._in_flight += 1
            try:
                await self._dispatch_one(event)
            finally:
                self._in_flight -= 1

    async def _dispatch_one(self, event: dict[str, Any]) -> None:
        rule = self.faults.take(event["type"])
        if rule is None:
            await self._deliver(event, 1)
        elif rule.fault == "drop":
            self._record(event, 0, "dropped", None)
            return
        elif rule.fault == "duplicate":
            await self._deliver(event, 1)
            await self._deliver(event, 1)
        elif rule.fault == "delay":
            self._spawn(self._later(event, rule.delay_s))
            return
        elif rule.fault == "reorder":
            self._held.append(event)
            self._spawn(self._release_held(event, self.settings.reorder_hold_s))
            return
        # an event went out: whatever was held back goes after it
        held, self._held = self._held, []
        for late in held:
            await self._deliver(late, 1)

    async def _later(self, event: dict[str, Any], delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._deliver(event, 1)

    async def _release_held(self, event: dict[str, Any], after_s: float) -> None:
        await asyncio.sleep(after_s)
        if any(held is event for held in self._held):
            self._held = [held for held in self._held if held is not event]
            await self._deliver(event, 1)

    async def _deliver(self, event: dict[str, Any], attempt: int) -> None:
        if not self.url or self._client is None:
            self._record(event, attempt, "no-endpoint", None)
            return
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(payload, self.secret),
        }
        status: int | None = None
        try:
            response = await self._client.post(self.url, content=payload, headers=headers)
            status = response.status_code
            outcome = "delivered" if 200 <= status < 300 else "rejected"
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %s", event["id"], self.url, type(exc).__name__)
            outcome = "error"
        self._record(event, attempt, outcome, status)
        if outcome != "delivered" and attempt < self.settings.webhook_attempts:
            delay = self.settings.webhook_retry_s * 2 ** (attempt - 1)
            self._spawn(self._retry(event, attempt + 1, delay))

    async def _retry(self, event: dict[str, Any], attempt: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self._deliver(event, attempt)

    def _record(self, event: dict[str, Any], attempt: int, outcome: str, status: int | None) -> None:
        self.log.append(DeliveryAttempt(event["id"], event["type"], attempt, outcome, status, time.time()))
