"""`create_app()`: the catalog's Litestar app. Assembly only: see bootstrap.py for the wiring."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from codex_catalog.bootstrap import bootstrap
from codex_catalog.http import ROUTES
from codex_catalog.settings import CatalogSettings
from codex_platform.service import service_app

DESCRIPTION = (
    "Content (draft, processing, ready, published, failed, archived), listings with cursor pagination "
    "and full-text search, and playback through short-lived presigned URLs for entitled callers."
)


def create_app(settings: CatalogSettings | None = None, **overrides: Any) -> Litestar:
    """The app; `overrides` go to `bootstrap` (a pool, storage or clock of the caller's)."""
    return service_app(
        settings or CatalogSettings.load(), bootstrap, ROUTES, overrides=overrides, description=DESCRIPTION
    )
