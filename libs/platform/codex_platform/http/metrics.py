"""Prometheus metrics of the HTTP layer and the ``GET /metrics`` endpoint."""

from __future__ import annotations

import weakref
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Label used for requests that matched no route (404, 405): the raw path would let any client create
# unbounded label values.
UNMATCHED_ROUTE = "<unmatched>"
# Litestar appends "; charset=utf-8" to text/* media types itself; CONTENT_TYPE_LATEST already has it.
_MEDIA_TYPE = "; ".join(p for p in CONTENT_TYPE_LATEST.split("; ") if not p.startswith("charset="))
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """Request count and latency by route template, method and status, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        labels = ("method", "route", "status")
        self.requests = Counter("http_requests", "HTTP requests answered", labels, registry=registry)
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its response",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, *, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(duration_s)


# prometheus_client refuses to register a metric twice in one registry, and tests (or a process
# serving two apps) build several apps on the default registry: share one HttpMetrics per registry.
_metrics_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, HttpMetrics] = weakref.WeakKeyDictionary()


def http_metrics_for(registry: CollectorRegistry | None = None) -> HttpMetrics:
    """The HttpMetrics of ``registry`` (the process-wide default registry when None)."""
    registry = registry if registry is not None else REGISTRY
    metrics = _metrics_by_registry.get(registry)
    if metrics is None:
        metrics = _metrics_by_registry[registry] = HttpMetrics(registry)
    return metrics


def metrics_route(registry: CollectorRegistry) -> HTTPRouteHandler:
    """``GET /metrics``: the registry in the Prometheus text format."""

    @get(
        "/metrics",
        operation_id="getMetrics",
        summary="Prometheus metrics",
        tags=["operations"],
        media_type=_MEDIA_TYPE,
        sync_to_thread=False,
    )
    def metrics_handler(request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(content=generate_latest(registry), media_type=_MEDIA_TYPE)

    return metrics_handler
