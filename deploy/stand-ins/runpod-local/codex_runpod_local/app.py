"""create_app(): the local RunPod endpoint, built with the platform's app factory; nothing but assembly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar
from litestar.di import Provide

from codex_platform.http import create_app as create_platform_app
from codex_runpod_local.http import error_handlers
from codex_runpod_local.http_admin import AdminController
from codex_runpod_local.http_cloud import CloudController
from codex_runpod_local.http_worker_loop import WorkerController
from codex_runpod_local.runtime import Endpoints
from codex_runpod_local.settings import Settings
from codex_runpod_local.webhooks import WebhookSender
from codex_runpod_local.workers import WorkerPool

DESCRIPTION = """A local stand-in for a RunPod serverless endpoint: the cloud's routes under
/v2/{endpoint}, the routes the runpod SDK's worker loop polls, cloud-like webhooks, and fault switches
under /_admin. State is in memory."""


def create_app(settings: Settings | None = None, *, cwd: Path | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    webhooks = WebhookSender(
        attempts=settings.webhook_attempts,
        interval_s=settings.webhook_interval_s,
        timeout_s=settings.webhook_timeout_s,
    )
    endpoints = Endpoints(settings=settings, webhooks=webhooks)
    pool = WorkerPool(settings=settings, cwd=cwd or Path.cwd())

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await webhooks.start()
        sweeper = asyncio.create_task(endpoints.sweep_forever())
        await pool.start()
        try:
            yield
        finally:
            # workers first: told to stop, their held polls released, then waited for
            pool.signal_stop()
            endpoints.close()
            await pool.stop()
            sweeper.cancel()
            await webhooks.close()

    return create_platform_app(
        service="runpod-local",
        description=DESCRIPTION,
        route_handlers=[CloudController, WorkerController, AdminController],
        dependencies={
            "endpoints": Provide(lambda: endpoints, sync_to_thread=False),
            "pool": Provide(lambda: pool, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
        },
        exception_handlers=error_handlers(),
        lifespan=[lifespan],
        state={"settings": settings, "endpoints": endpoints, "pool": pool},
        request_max_body_size=settings.max_body_bytes,
    )
