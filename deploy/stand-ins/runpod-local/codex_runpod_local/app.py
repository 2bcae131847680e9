"""create_app(): the local RunPod endpoint on the service kit; nothing but assembly (see bootstrap.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from codex_platform.service import service_app
from codex_runpod_local.bootstrap import bootstrap
from codex_runpod_local.http import error_handlers
from codex_runpod_local.http_admin import AdminController
from codex_runpod_local.http_cloud import CloudController
from codex_runpod_local.http_worker_loop import WorkerController
from codex_runpod_local.settings import Settings

DESCRIPTION = """A local stand-in for a RunPod serverless endpoint: the cloud's routes under
/v2/{endpoint}, the routes the runpod SDK's worker loop polls, cloud-like webhooks, and fault switches
under /_admin. State is in memory."""


def _part(name: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(state.deps, name)

    return Provide(provide, sync_to_thread=False)


def create_app(settings: Settings | None = None, *, cwd: Path | None = None) -> Litestar:
    settings = settings or Settings.load()
    return service_app(
        settings,
        bootstrap,
        [CloudController, WorkerController, AdminController],
        overrides={"cwd": cwd},
        description=DESCRIPTION,
        # RunPod's API key, not Codex access tokens, guards these routes (checked in http.py).
        verify_tokens=False,
        exception_handlers=error_handlers(),
        dependencies={name: _part(name) for name in ("endpoints", "pool", "settings")},
        request_max_body_size=settings.max_body_bytes,
    )
