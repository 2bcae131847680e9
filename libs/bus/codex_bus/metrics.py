"""Prometheus metrics of the bus, on the default registry that each service's /metrics serves."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CONSUMED",
    "DEAD_LETTERED",
    "HANDLER_SECONDS",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "OUTBOX_PUBLISHED",
    "OUTBOX_PUBLISH_LATENCY",
    "PUBLISHED",
    "RELAY_FAILURES",
    "REPLAYED",
    "RETRIED",
    "WORKER_PARTS",
]

PUBLISHED = Counter("codex_bus_published_total", "Messages published and confirmed by the broker.", ["type"])
CONSUMED = Counter("codex_bus_consumed_total", "Messages handed to a handler.", ["queue", "type"])
RETRIED = Counter("codex_bus_retried_total", "Messages sent back for another attempt.", ["queue", "type"])
DEAD_LETTERED = Counter(
    "codex_bus_dead_lettered_total",
    "Messages moved to a dead-letter queue.",
    ["queue", "type", "reason"],
)
REPLAYED = Counter("codex_bus_replayed_total", "Dead letters replayed to their source queue.", ["queue"])
HANDLER_SECONDS = Histogram(
    "codex_bus_handler_seconds",
    "Time a handler took for one batch.",
    ["queue", "type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_BACKLOG = Gauge("codex_bus_outbox_backlog", "Outbox rows not yet published.", ["schema"])
OUTBOX_OLDEST_AGE = Gauge(
    "codex_bus_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row.", ["schema"]
)
OUTBOX_PUBLISHED = Counter(
    "codex_bus_outbox_published_total", "Outbox rows published and marked sent.", ["schema"]
)
OUTBOX_PUBLISH_LATENCY = Histogram(
    "codex_bus_outbox_publish_latency_seconds",
    "From an outbox row's insert to its confirmed publish.",
    ["schema"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RELAY_FAILURES = Counter(
    "codex_bus_outbox_relay_failures_total",
    "Relay passes that failed (logged, retried after a backoff).",
    ["schema"],
)
WORKER_PARTS = Gauge(
    "codex_bus_worker_part_up",
    "1 while a part of a worker (relay, consumer, service task, inbox pruner) runs, 0 once it ended.",
    ["part"],
)
