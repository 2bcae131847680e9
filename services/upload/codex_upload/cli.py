"""`python -m codex_upload.cli serve | worker | migrate | configure-bucket`."""

from __future__ import annotations

import argparse
import sys

from codex_bus import service_cli
from codex_platform.service_cli import Command
from codex_platform.storage import Storage
from codex_upload.bootstrap import bootstrap
from codex_upload.handlers import SUBSCRIPTIONS
from codex_upload.settings import UploadSettings
from codex_upload.store import configure_bucket
from codex_upload.sweeper import background


async def _configure_bucket(settings: UploadSettings, args: argparse.Namespace) -> int:
    """Create the bucket if missing and let the frontend's origins (CORS_ORIGINS) PUT to it."""
    async with Storage.from_settings(settings) as storage:
        await configure_bucket(storage, settings.cors_origins)
    print(f"bucket {settings.s3_bucket}: CORS for {', '.join(settings.cors_origins)}")
    return 0


CLI = service_cli(
    UploadSettings,
    "codex_upload",
    bootstrap,
    subscriptions=SUBSCRIPTIONS,
    tasks=background,
    commands={
        "configure-bucket": Command(
            "create the bucket if missing and put its CORS rules for browser uploads", _configure_bucket
        )
    },
)

if __name__ == "__main__":
    sys.exit(CLI.main())
