"""create_app(): the local RunPod endpoint as a Litestar app; nothing but assembly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.types import Scope

from codex_runpod_local.http import (
    AdminController,
    CloudController,
    WorkerController,
    error_handlers,
    liveness,
)
from codex_runpod_local.runtime import Endpoints
from codex_runpod_local.settings import Settings
from codex_runpod_local.webhooks import WebhookSender
from codex_runpod_local.workers import WorkerPool

log = logging.getLogger("codex_runpod_local")


async def log_unexpected(exc: Exception, _: Scope) -> None:
    if not isinstance(exc, HTTPException):
        log.error("unexpected error", exc_info=exc)


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

    app = Litestar(
        route_handlers=[CloudController, WorkerController, AdminController, liveness],
        dependencies={
            "endpoints": Provide(lambda: endpoints, sync_to_thread=False),
            "pool": Provide(lambda: pool, sync_to_thread=False),
            "settings": Provide(lambda: settings, sync_to_thread=False),
        },
        exception_handlers=error_handlers(),
        after_exception=[log_unexpected],
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="Codex local RunPod endpoint", version="0.1.0"),
        logging_config=None,
    )
    app.state.settings = settings
    app.state.endpoints = endpoints
    app.state.pool = pool
    log.setLevel(logging.INFO)
    return app
