"""The upload service's Litestar app: one call of the platform's service app."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from codex_platform.service import service_app
from codex_upload.bootstrap import bootstrap
from codex_upload.http import ROUTES
from codex_upload.settings import UploadSettings

DESCRIPTION = (
    "Direct-to-storage uploads: a presigned PUT for small files, S3 multipart with presigned part URLs "
    "for large ones, completion verified against the store, then `upload.completed.v1`."
)


def create_app(settings: UploadSettings | None = None, **overrides: Any) -> Litestar:
    """The app for `settings` (default: from the environment); `overrides` go to `bootstrap`."""
    return service_app(
        settings or UploadSettings.load(), bootstrap, ROUTES, overrides=overrides, description=DESCRIPTION
    )
