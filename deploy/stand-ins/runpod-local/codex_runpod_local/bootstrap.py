"""The one place where the endpoint's parts are built: its job books, webhook sender and workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from codex_runpod_local.runtime import Endpoints
from codex_runpod_local.settings import Settings
from codex_runpod_local.webhooks import WebhookSender
from codex_runpod_local.workers import WorkerPool


@dataclass(frozen=True)
class Deps:
    settings: Settings
    endpoints: Endpoints
    pool: WorkerPool
    webhooks: WebhookSender

    async def drain(self) -> None:
        """Stop the workers while the port still answers: the SDK's loop retries a refused connection
        at once, without pause, so the workers must be gone before the socket closes."""
        self.pool.signal_stop()
        self.endpoints.close()  # releases the held job-take polls
        await self.pool.stop()


@asynccontextmanager
async def bootstrap(settings: Settings, *, cwd: Path | None = None) -> AsyncIterator[Deps]:
    """Start the webhook sender, the expiry sweeper and the worker processes; stop them on exit."""
    webhooks = WebhookSender(
        attempts=settings.webhook_attempts,
        interval_s=settings.webhook_interval_s,
        timeout_s=settings.webhook_timeout_s,
    )
    endpoints = Endpoints(settings=settings, webhooks=webhooks)
    pool = WorkerPool(settings=settings, cwd=cwd or Path.cwd())
    deps = Deps(settings=settings, endpoints=endpoints, pool=pool, webhooks=webhooks)
    await webhooks.start()
    sweeper = asyncio.create_task(endpoints.sweep_forever())
    await pool.start()
    try:
        yield deps
    finally:
        await deps.drain()
        sweeper.cancel()
        await webhooks.close()
