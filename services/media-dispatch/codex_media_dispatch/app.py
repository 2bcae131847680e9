"""`create_app()`: media-dispatch's Litestar app. Assembly only: see bootstrap.py for the wiring."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from codex_media_dispatch.bootstrap import bootstrap
from codex_media_dispatch.http import ROUTES
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.service import service_app

DESCRIPTION = (
    "Media assets: each completed upload becomes a transcode job on the RunPod endpoint, followed by "
    "RunPod's webhook and, when that is late or lost, by polling; `media.asset.ready` or "
    "`media.asset.failed` is emitted once."
)


def create_app(settings: MediaDispatchSettings | None = None, **overrides: Any) -> Litestar:
    """The app; `overrides` go to `bootstrap` (a pool, storage, RunPod transport of the caller's)."""
    return service_app(
        settings or MediaDispatchSettings.load(),
        bootstrap,
        ROUTES,
        overrides=overrides,
        description=DESCRIPTION,
    )
