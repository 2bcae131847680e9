"""The GPU transcode job, version 1: what media-dispatch sends to the RunPod endpoint and what comes back.

The job travels as RunPod's ``input``; the worker answers with a ``TranscodeResultV1``. The runpod SDK
lifts a top-level ``error`` key out of a handler's return into the job's own ``error`` (and marks the job
FAILED). RunPod takes that error only as a string (a dict may end the job COMPLETED with no output:
runpod-python issue 299), so the worker sends its classified error as a JSON string and on RunPod a
failed job reads ``{"status": "FAILED", "error": "{\"code\": ..., \"message\": ..., \"retryable\": ...}",
"output": <the rest of the result>}``. ``result_from_runpod`` puts the two halves back together.
"""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal

import msgspec

from codex_contracts.base import Contract, contract

ErrorCode = Literal[
    # permanent: the source itself is the problem; retrying cannot help
    "NOT_A_VIDEO",
    "NO_VIDEO_STREAM",
    "UNSUPPORTED_CODEC",
    "TRUNCATED",
    "TOO_LONG",
    "TOO_LARGE",
    "EMPTY",
    "INVALID_JOB",
    # retryable: the network or the store failed
    "DOWNLOAD_FAILED",
    "UPLOAD_FAILED",
    # retryable within media-dispatch's bounded retries: the worker failed unexpectedly
    "INTERNAL",
]

PERMANENT_CODES: frozenset[str] = frozenset(
    {"NOT_A_VIDEO", "NO_VIDEO_STREAM", "UNSUPPORTED_CODEC", "TRUNCATED", "TOO_LONG", "TOO_LARGE", "EMPTY"}
    | {"INVALID_JOB"}
)


class Rung(msgspec.Struct, kw_only=True, frozen=True):
    """One step of the ladder. ``short_side`` is the height of a landscape rendition (the width of a
    portrait one). Rate control: capped CRF (``crf`` with ``maxrate_kbps``), or average bitrate when
    ``video_bitrate_kbps`` is set."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    short_side: Annotated[int, msgspec.Meta(ge=16, le=4320)]
    crf: Annotated[int, msgspec.Meta(ge=0, le=51)] | None = 23
    video_bitrate_kbps: Annotated[int, msgspec.Meta(gt=0)] | None = None
    maxrate_kbps: Annotated[int, msgspec.Meta(gt=0)] | None = None
    audio_bitrate_kbps: Annotated[int, msgspec.Meta(ge=32, le=512)] = 128
    # A frame-rate cap for this rung (e.g. 30 for a small rung of a 60 fps source); none: the source's
    # rate, capped at 60. The worker keeps evenly spaced frames: 60 fps capped at 25 gives 20 fps.
    max_fps: Annotated[int, msgspec.Meta(ge=1, le=240)] | None = None


DEFAULT_LADDER: tuple[Rung, ...] = (
    Rung(name="1080p", short_side=1080, crf=21, maxrate_kbps=6000, audio_bitrate_kbps=160),
    Rung(name="720p", short_side=720, crf=22, maxrate_kbps=3500, audio_bitrate_kbps=128),
)


class Limits(msgspec.Struct, kw_only=True, frozen=True):
    max_source_bytes: Annotated[int, msgspec.Meta(gt=0)] = 20 * 1024**3
    max_duration_s: Annotated[float, msgspec.Meta(gt=0)] = 4 * 3600.0


@contract("media.transcode.job.v1")
class TranscodeJobV1(Contract, kw_only=True, frozen=True):
    job_id: str
    asset_id: str
    source_url: str  # presigned GET
    outputs: dict[str, str]  # rung name -> presigned PUT (video/mp4)
    thumbnail_url: str  # presigned PUT (image/jpeg)
    # Defaults to DEFAULT_LADDER (1080p and 720p).
    ladder: Annotated[list[Rung], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_LADDER)
    )
    limits: Limits = Limits()


class Rendition(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    width: int
    height: int
    codec: str
    profile: str
    pix_fmt: str
    fps: float
    bitrate: int  # bits per second, over the whole file
    size_bytes: int
    duration_s: float
    has_audio: bool


class Thumbnail(msgspec.Struct, kw_only=True, frozen=True):
    width: int
    height: int
    size_bytes: int
    at_s: float


class Timings(msgspec.Struct, kw_only=True, frozen=True):
    download_s: float = 0.0
    probe_s: float = 0.0
    transcode_s: float = 0.0
    upload_s: float = 0.0
    total_s: float = 0.0


class GpuInfo(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    memory_total_mb: int
    memory_used_mb: int
    encoder_utilization_pct: int
    decoder_utilization_pct: int
    driver: str


class TranscodeError(msgspec.Struct, kw_only=True, frozen=True):
    code: ErrorCode
    message: str
    retryable: bool


@contract("media.transcode.result.v1")
class TranscodeResultV1(Contract, kw_only=True, frozen=True):
    job_id: str
    status: Literal["succeeded", "failed"]
    renditions: list[Rendition] = msgspec.field(default_factory=list)
    thumbnail: Thumbnail | None = None
    timings: Timings = Timings()
    encoder: str | None = None
    decoder: str | None = None
    gpu: GpuInfo | None = None
    error: TranscodeError | None = None


def result_from_runpod(job_id: str, status_body: dict[str, Any]) -> TranscodeResultV1:
    """Rebuild the worker's result from a RunPod ``/status`` body (or webhook payload).

    A COMPLETED job carries the whole result in ``output``. A FAILED job carries our classified error
    in ``error`` (a JSON string; an object is read too) and the rest in ``output``; an exception the
    worker did not catch reaches RunPod as a string (the SDK's JSON dump of the traceback), read here as
    a retryable ``INTERNAL`` error, as is a COMPLETED job without a result (what RunPod makes of a
    non-string error, or of a result it failed to store).
    """
    output = status_body.get("output")
    fields: dict[str, Any] = dict(output) if isinstance(output, dict) else {}
    fields.setdefault("job_id", job_id)
    if status_body.get("status") == "COMPLETED" and "status" not in fields and not status_body.get("error"):
        fields["status"] = "failed"
        fields["error"] = {
            "code": "INTERNAL",
            "message": "RunPod reports the job COMPLETED without the worker's result",
            "retryable": True,
        }
        return msgspec.convert(fields, TranscodeResultV1)
    raw_error = status_body.get("error")
    if isinstance(raw_error, str):
        with contextlib.suppress(ValueError):
            raw_error = json.loads(raw_error)
    if isinstance(raw_error, dict) and {"code", "message", "retryable"} <= raw_error.keys():
        fields["error"] = raw_error
        fields["status"] = "failed"
    elif raw_error or status_body.get("status") in {"FAILED", "TIMED_OUT", "CANCELLED"}:
        message = raw_error.get("error_message", str(raw_error)) if isinstance(raw_error, dict) else raw_error
        fields["error"] = {
            "code": "INTERNAL",
            "message": str(message or status_body.get("status")),
            "retryable": True,
        }
        fields["status"] = "failed"
    return msgspec.convert(fields, TranscodeResultV1)
