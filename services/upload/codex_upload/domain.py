"""Uploads and their rules: what may be uploaded, how it is split into parts, when it is done.

No I/O and no framework here: handlers load an `Upload`, ask these functions, and store the answer.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from codex_platform.errors import Conflict, InvalidInput, NotFound, RateLimited

UploadState = Literal["pending", "uploading", "completed", "aborted", "expired", "failed"]
Method = Literal["put", "multipart"]
OPEN_STATES: frozenset[str] = frozenset({"pending", "uploading"})
MAX_PARTS = 10_000  # S3's limit on the parts of one multipart upload

# The containers the GPU worker opens (gpu/codex_gpu/probe.py ACCEPTED_CONTAINERS: FFmpeg's demuxer
# names), by the file extensions they come with. The worker sniffs the container from the bytes, so
# the extension only keeps uploads to what it will accept; the bytes themselves are judged there.
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"  # one FFmpeg demuxer for the ISO media family
ACCEPTED_EXTENSIONS: dict[str, str] = {
    ".mp4": _MP4, ".m4v": _MP4, ".mov": _MP4, ".3gp": _MP4, ".3g2": _MP4, ".mj2": _MP4,
    ".mkv": "matroska,webm", ".webm": "matroska,webm",
    ".avi": "avi",
    ".ts": "mpegts", ".mts": "mpegts", ".m2ts": "mpegts",
    ".mpg": "mpeg", ".mpeg": "mpeg", ".vob": "mpeg",
    ".flv": "flv",
    ".wmv": "asf", ".asf": "asf",
}  # fmt: skip
# The video media types browsers and tools give those files (a browser names a file's type from
# its extension, so one container has several spellings).
ACCEPTED_CONTENT_TYPES: frozenset[str] = frozenset({
    "video/mp4", "video/x-m4v", "video/quicktime", "video/3gpp", "video/3gpp2", "video/mj2",
    "video/x-matroska", "video/webm",
    "video/x-msvideo", "video/avi", "video/msvideo",
    "video/mp2t", "video/vnd.dlna.mpeg-tts",
    "video/mpeg", "video/dvd",
    "video/x-flv",
    "video/x-ms-wmv", "video/x-ms-asf",
})  # fmt: skip
MAX_FILENAME_LENGTH = 255


class UploadNotFound(NotFound):
    """No such upload, or not the caller's: both answer the same, so ids reveal nothing."""

    def __init__(self) -> None:
        super().__init__("No such upload")


class UploadClosed(Conflict):
    """The upload's state refuses the request (completing an aborted one, aborting a completed one)."""


class ObjectMissing(Conflict):
    """Completion asked for before the bytes are in the store: the client may upload and try again."""


class ObjectRefused(Conflict):
    """The stored bytes are not what was declared: the object is deleted and the upload failed."""


class TooManyUploads(RateLimited):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s, "Too many uploads started; try again later")


@dataclass(frozen=True)
class Declaration:
    """What a creator says about a file before sending it, once checked."""

    filename: str
    extension: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class PartPlan:
    part_size: int
    part_count: int

    def length_of(self, number: int, size_bytes: int) -> int:
        """Bytes in part `number` (1-based): `part_size`, except the last holds the rest."""
        if not 1 <= number <= self.part_count:
            raise InvalidInput("part_numbers", f"parts are numbered 1 to {self.part_count}")
        if number < self.part_count:
            return self.part_size
        return size_bytes - self.part_size * (self.part_count - 1)


@dataclass(frozen=True)
class Upload:
    id: str
    owner_id: str
    filename: str
    content_type: str
    size_bytes: int
    method: Method
    object_key: str
    state: UploadState
    created_at: datetime
    expires_at: datetime
    multipart_id: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    etag: str | None = None
    failure_reason: str | None = None
    completed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def plan(self) -> PartPlan:
        if self.part_size is None or self.part_count is None:
            raise UploadClosed("This upload is a single PUT: it has no parts")
        return PartPlan(self.part_size, self.part_count)

    def visible_to(self, user_id: str, role: str) -> bool:
        return role == "admin" or self.owner_id == user_id

    def completed(self, etag: str, now: datetime) -> Upload:
        return replace(self, state="completed", etag=etag, completed_at=now)


def declare(filename: str, content_type: str, size_bytes: int, *, max_bytes: int) -> Declaration:
    """Check a declared file against what the worker accepts and the size limit."""
    name = posixpath.basename(filename.replace("\\", "/")).strip()
    if not name or len(name) > MAX_FILENAME_LENGTH or any(ord(c) < 32 for c in name):
        raise InvalidInput("filename", f"must be a file name of 1 to {MAX_FILENAME_LENGTH} characters")
    extension = posixpath.splitext(name)[1].lower()
    if extension not in ACCEPTED_EXTENSIONS:
        accepted = ", ".join(sorted(ACCEPTED_EXTENSIONS))
        raise InvalidInput("filename", f"must end with a video extension the platform accepts ({accepted})")
    # Parameters (`; codecs=...`) are dropped: the presigned PUT binds the type the client must send.
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in ACCEPTED_CONTENT_TYPES:
        raise InvalidInput("content_type", "must be a video type the platform accepts, e.g. video/mp4")
    if size_bytes < 1:
        raise InvalidInput("size_bytes", "must be at least 1")
    if size_bytes > max_bytes:
        raise InvalidInput("size_bytes", f"must be at most {max_bytes} bytes")
    return Declaration(name, extension, kind, size_bytes)


def object_key(upload_id: str, extension: str) -> str:
    """Where the original lives: the seed's layout, which media-dispatch reads from the event."""
    return f"videos/original/{upload_id}{extension}"


def plan_parts(size_bytes: int, preferred_part_size: int) -> PartPlan:
    """Parts of `preferred_part_size`, larger (whole MiB) when that would need over 10,000 parts."""
    mib = 1024 * 1024
    part_size = max(preferred_part_size, math.ceil(size_bytes / MAX_PARTS / mib) * mib)
    return PartPlan(part_size, math.ceil(size_bytes / part_size))


def check_part_numbers(numbers: list[int], plan: PartPlan) -> list[int]:
    """The distinct requested part numbers, in order; each must be one of the plan's."""
    if not numbers:
        raise InvalidInput("part_numbers", "name at least one part")
    if any(not 1 <= number <= plan.part_count for number in numbers):
        raise InvalidInput("part_numbers", f"parts are numbered 1 to {plan.part_count}")
    return sorted(set(numbers))


def refusal_of(upload: Upload, size: int, content_type: str | None) -> str | None:
    """Why the stored object is not what the upload declared, or None when it is."""
    if size != upload.size_bytes:
        return f"the stored object has {size} bytes, {upload.size_bytes} were declared"
    stored = (content_type or "").split(";", 1)[0].strip().lower()
    if stored != upload.content_type:
        return f"the stored object's type is {stored or 'missing'}, {upload.content_type} was declared"
    return None


def url_expiry(now: datetime, upload: Upload, ttl_s: int) -> int:
    """Seconds a presigned URL may live: `ttl_s`, never past the upload's own expiry."""
    left = (upload.expires_at - now).total_seconds()
    if left <= 0:
        raise UploadClosed("This upload has expired")
    return max(1, min(ttl_s, math.floor(left)))


def expires(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)
