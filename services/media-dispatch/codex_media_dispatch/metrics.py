"""media-dispatch's Prometheus metrics, on the default registry that /metrics serves.

Counters and histograms count in the process that applied the change (the webhook in `serve`, the
reconciler and dispatcher in `worker`); the assets-by-state gauge is read from the database.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
