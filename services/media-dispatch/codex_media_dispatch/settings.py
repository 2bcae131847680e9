"""media-dispatch's settings: the kit's, plus RunPod, the webhook's public base URL and the job policy."""

from __future__ import annotations

from typing import ClassVar

from codex_platform.service import ServiceSettings
from codex_platform.settings import Port, Url

SERVICE = "media-dispatch"

# SigV4 presigned URLs live at most 7 days.
MAX_PRESIGN_S = 7 * 24 * 3600


class MediaDispatchSettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = SERVICE
    port: Port = 8004

    runpod_api_base: Url = "https://api.runpod.ai/v2"
    """`RUNPOD_API_BASE`: RunPod's cloud API; `make dev`, compose and tests name the stand-in."""
    runpod_endpoint_id: str = "codex-transcode"
    runpod_api_key: str | None = None
    runpod_timeout_s: float = 10.0
    public_url: Url = "http://127.0.0.1:8004"
    """`CODEX_MEDIA_DISPATCH_PUBLIC_URL`: how RunPod reaches this service (the gateway's origin)."""

    max_in_flight: int = 4
    """Backpressure: jobs submitted to RunPod and not yet finished; the rest wait, in order."""
    max_attempts: int = 3
    """Submissions of one asset (resubmissions after retryable failures included) before it fails."""
    execution_timeout_s: int = 3600
    job_ttl_s: int = 4 * 3600
    """RunPod's `policy.ttl`: the job's whole life; presigned URLs outlive it by `presign_margin_s`."""
    presign_margin_s: int = 900

    retry_base_s: float = 5.0
    retry_max_s: float = 300.0
    poll_interval_s: float = 60.0
    """How often an in-flight job's `/status` is read (progress, lost webhooks): far below RunPod's
    30-minute retention of results."""
    submit_grace_s: float = 60.0
    """A claimed job that has no RunPod id after this long was lost mid-submission (a crash)."""
    stuck_in_queue_s: float = 900.0
    """A job still IN_QUEUE after this long is cancelled and resubmitted (and /health logged)."""
    dispatch_interval_s: float = 1.0
    reconcile_interval_s: float = 2.0
    reconcile_batch: int = 50
    gauge_interval_s: float = 15.0
    gpu_price_per_s: float = 0.00031
    """Estimated cost of one GPU-second (RunPod's price for the endpoint's GPU type), in USD."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_in_flight < 1 or self.max_attempts < 1:
            raise ValueError("max_in_flight and max_attempts must be at least 1")
        if self.presign_s > MAX_PRESIGN_S:
            raise ValueError("job_ttl_s + presign_margin_s must stay within 7 days (presigned URLs)")

    @property
    def presign_s(self) -> int:
        """Lifetime of the job's presigned URLs: longer than RunPod may keep the job alive."""
        return self.job_ttl_s + self.presign_margin_s

    @property
    def run_url(self) -> str:
        return f"{self.runpod_api_base.rstrip('/')}/{self.runpod_endpoint_id}"
