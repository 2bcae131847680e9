"""`python -m codex_media_dispatch.cli serve | worker | migrate`.

The worker relays the outbox, consumes `upload.completed.v1`, and runs the dispatcher (submissions
within the in-flight limit) and the reconciler (overdue `/status` reads).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from codex_bus import ConsumerSettings, service_cli
from codex_media_dispatch.bootstrap import Deps, bootstrap
from codex_media_dispatch.dispatch import run_dispatcher
from codex_media_dispatch.handlers import SUBSCRIPTIONS
from codex_media_dispatch.metrics import refresh_asset_gauge
from codex_media_dispatch.reconciler import run_reconciler
from codex_media_dispatch.settings import MediaDispatchSettings


def background(deps: Deps) -> Mapping[str, Callable[[], Coroutine[Any, Any, None]]]:
    # The kit serves the worker's /metrics (these loops' counters too) on `worker_metrics_port`.
    return {
        "dispatcher": lambda: run_dispatcher(deps),
        "reconciler": lambda: run_reconciler(deps),
        "asset-gauge": lambda: refresh_asset_gauge(deps),
    }


# An upload waits for nothing but a slot: its batch does not wait to fill (Cloudflare's default is 5 s),
# and a few batches are handled at once (each message has its own inbox transaction).
CONSUMER = ConsumerSettings(max_batch_size=10, max_batch_timeout=0.05, max_concurrency=4)

CLI = service_cli(
    MediaDispatchSettings,
    "codex_media_dispatch",
    bootstrap,
    subscriptions=SUBSCRIPTIONS,
    tasks=background,
    consumer_settings=CONSUMER,
)

if __name__ == "__main__":
    sys.exit(CLI.main())
