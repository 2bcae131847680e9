"""media-dispatch's Prometheus metrics, on the default registry that /metrics serves.

Counters and histograms count in the process that applied the change (the webhook in `serve`, the
reconciler and dispatcher in `worker`, which the kit serves on `worker_metrics_port` when it is set);
the assets-by-state gauge is read from the database by the worker.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog
from prometheus_client import Counter, Gauge, Histogram

from codex_media_dispatch.domain import ASSET_STATES

if TYPE_CHECKING:
    from codex_media_dispatch.bootstrap import Deps

_log = structlog.stdlib.get_logger("codex_media_dispatch")

TRANSITIONS = Counter(
    "media_dispatch_transitions_total",
    "Asset transitions applied, by what brought the news (webhook, reconciler, dispatcher, admin).",
    ["source", "to"],
)
SUBMISSIONS = Counter("media_dispatch_submissions_total", "Jobs RunPod accepted (/run).")
RUN_REFUSED = Counter(
    "media_dispatch_run_refused_total", "/run answers that were not an accepted job.", ["reason"]
)
RESUBMISSIONS = Counter(
    "media_dispatch_resubmissions_total", "Assets queued again after a retryable failure.", ["reason"]
)
TIME_IN_QUEUE = Histogram(
    "media_dispatch_time_in_queue_seconds",
    "From the upload's completion to the asset's first submission.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
TIME_TO_READY = Histogram(
    "media_dispatch_time_to_ready_seconds",
    "From the upload's completion to the asset being ready.",
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
GPU_SECONDS = Counter("media_dispatch_gpu_seconds_total", "Execution time RunPod reported for finished jobs.")
ASSETS = Gauge("media_dispatch_assets", "Assets by state (read from the database).", ["state"])


async def refresh_asset_gauge(deps: Deps) -> None:
    """Until cancelled: assets by state, from the database (every replica reports the same figures)."""
    while True:
        try:
            rows = await deps.pool.fetch("SELECT state, count(*) AS n FROM assets GROUP BY state")
        except Exception as exc:  # the database is down a moment: keep the last figures
            _log.warning("asset_gauge_failed", error_type=type(exc).__name__)
        else:
            counts = {row["state"]: int(row["n"]) for row in rows}
            for state in ASSET_STATES:
                ASSETS.labels(state).set(counts.get(state, 0))
        await asyncio.sleep(deps.settings.gauge_interval_s)
