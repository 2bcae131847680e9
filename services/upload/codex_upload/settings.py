"""The upload service's settings: `CODEX_UPLOAD_<NAME>` or the conventional `<NAME>`, with local defaults."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from codex_platform.ratelimit import Limit
from codex_platform.service import ServiceSettings
from codex_platform.settings import Port

MIB = 1024 * 1024
GIB = 1024 * MIB
# S3's own bounds on multipart uploads: every part but the last at least 5 MiB, at most 5 GiB.
S3_MIN_PART_BYTES = 5 * MIB
S3_MAX_PART_BYTES = 5 * GIB

RateSpec = Annotated[
    str, msgspec.Meta(pattern=r"^[1-9][0-9]*/[0-9]+(\.[0-9]+)?$", description="COUNT/SECONDS")
]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class UploadSettings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "upload"
    port: Port = 8003

    max_upload_bytes: Positive = 20 * GIB
    """The largest file a creator may upload."""
    single_put_max_bytes: Positive = 64 * MIB
    """Up to this size an upload is one presigned PUT; above it, S3 multipart."""
    part_size_bytes: Annotated[int, msgspec.Meta(ge=S3_MIN_PART_BYTES, le=S3_MAX_PART_BYTES)] = 16 * MIB
    """Preferred part size; larger where the file would need more than 10,000 parts."""
    # At most 7 days: the longest a SigV4 presigned URL may live, and the PUT URL lives as long.
    upload_ttl_s: Annotated[int, msgspec.Meta(ge=60, le=7 * 24 * 3600)] = 24 * 3600
    """How long an upload stays open for its bytes before the sweeper expires it."""
    part_url_ttl_s: Positive = 3600
    """Validity of a presigned part URL (capped by the upload's expiry); clients ask again."""
    create_limit: RateSpec = "60/3600"
    """Uploads one creator may start per window (COUNT/SECONDS)."""

    sweep_interval_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    """Pause between two sweeps when the last found nothing to do."""
    sweep_batch: Positive = 50
    """Uploads one sweep claims at once (the rest wait for the next sweep or another replica)."""
    put_check_interval_s: Positive = 60
    """How often the sweeper looks for the object of a single-PUT upload nobody completed."""
    late_put_grace_s: Positive = 900
    """After an upload closes, when its still-valid PUT URL might yet land bytes: cleaned then."""

    @property
    def create_rate(self) -> Limit:
        count, window = self.create_limit.split("/")
        return Limit(int(count), float(window))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.single_put_max_bytes > S3_MAX_PART_BYTES:
            raise ValueError("single_put_max_bytes must be at most 5 GiB (S3's limit for one PUT)")
