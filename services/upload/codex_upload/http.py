"""The HTTP API under /uploads: each route turns its request into a handler call and shapes the answer.

Starting and listing uploads is for creators and admins (403 otherwise); one upload is seen, completed
or aborted by its owner or an admin, and anyone else gets 404, so that an id reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Literal, TypeAlias

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.types import ControllerRouterHandler

from codex_platform.errors import InvalidInput
from codex_platform.http import BEARER_SECURITY, CurrentPrincipal, problems, require_roles
from codex_platform.http.jwt_verifier import Principal
from codex_upload import handlers
from codex_upload.bootstrap import Deps
from codex_upload.domain import (
    ACCEPTED_CONTENT_TYPES,
    ACCEPTED_EXTENSIONS,
    MAX_FILENAME_LENGTH,
    MAX_PARTS,
    Upload,
    UploadState,
    declare,
)
from codex_upload.settings import UploadSettings

DepsParam: TypeAlias = SkipValidation[Deps]
UploadId: TypeAlias = FromPath[uuid.UUID]
BigCount = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
PartNumber = Annotated[int, msgspec.Meta(ge=1, le=MAX_PARTS)]
# The document states the default limit; a deployment that sets a lower one refuses more (400).
DEFAULT_MAX_UPLOAD_BYTES: int = next(
    f.default for f in msgspec.structs.fields(UploadSettings) if f.name == "max_upload_bytes"
)


def _any_case(text: str) -> str:
    """`text` as a regex that matches it in any letter case (no inline flags: JSON Schema has none)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else "\\." if c == "." else c for c in text)


# What `declare` accepts, stated for the wire (issue 18): the name after the last slash or backslash,
# with a character before its dot, no control character, ending (spaces aside) in an accepted
# extension; a media type among the accepted ones, parameters allowed.
_EXTENSIONS = "|".join(_any_case(extension[1:]) for extension in sorted(ACCEPTED_EXTENSIONS))
_NAME = "[^/\\\\\\x00-\\x1f]"
FILENAME_PATTERN = f"^(?:[\\s\\S]*[/\\\\])?{_NAME}*[^/\\\\\\s.\\x00-\\x1f]{_NAME}*\\.(?:{_EXTENSIONS})\\s*$"
_TYPES = "|".join(_any_case(kind) for kind in sorted(ACCEPTED_CONTENT_TYPES))
CONTENT_TYPE_PATTERN = f"^\\s*(?:{_TYPES})\\s*(?:;[\\s\\S]*)?$"


class UploadRequest(msgspec.Struct, forbid_unknown_fields=True):
    filename: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_FILENAME_LENGTH,
            pattern=FILENAME_PATTERN,
            description="The file's name, with a video extension the platform accepts",
            examples=["holiday.mp4"],
        ),
    ]
    content_type: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=255,
            pattern=CONTENT_TYPE_PATTERN,
            description="A video media type the platform accepts",
            examples=["video/mp4"],
        ),
    ]
    size_bytes: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=DEFAULT_MAX_UPLOAD_BYTES,
            description="At most the deployment's max_upload_bytes (20 GiB unless configured lower)",
        ),
    ]


class UploadTicket(msgspec.Struct, omit_defaults=True):
    """How to send the bytes: `put` (PUT the file to `url` with exactly `headers`) or `multipart`
    (ask POST /uploads/{id}/parts for part URLs; every part is `part_size` bytes but the last)."""

    upload_id: str
    method: Literal["put", "multipart"]
    expires_at: datetime
    url: str | None = None
    headers: dict[str, str] | None = None
    part_size: int | None = None
    part_count: int | None = None


class PartsRequest(msgspec.Struct, forbid_unknown_fields=True):
    part_numbers: Annotated[list[PartNumber], msgspec.Meta(min_length=1, max_length=1000)]


class PartUrlView(msgspec.Struct):
    number: int
    url: str
    size_bytes: int
    """The part's exact length: its URL signs Content-Length."""


class PartUrls(msgspec.Struct):
    upload_id: str
    parts: list[PartUrlView]


class StoredPart(msgspec.Struct):
    number: int
    etag: str
    size_bytes: int


class StoredParts(msgspec.Struct):
    upload_id: str
    parts: list[StoredPart]


class PartRef(msgspec.Struct, forbid_unknown_fields=True):
    number: PartNumber
    etag: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class CompleteRequest(msgspec.Struct, forbid_unknown_fields=True):
    """For a multipart upload: each part's number and the ETag its PUT answered. Without `parts`, the
    parts the store holds are used; a single PUT completes with no body."""

    parts: Annotated[list[PartRef], msgspec.Meta(max_length=MAX_PARTS)] | None = None


class UploadView(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    method: Literal["put", "multipart"]
    state: UploadState
    parts_done: int
    part_count: int | None
    part_size: int | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    failure_reason: str | None


class UploadPage(msgspec.Struct):
    items: list[UploadView]
    next_cursor: str | None


def _caller(principal: Principal) -> handlers.Caller:
    return handlers.Caller(principal.user_id, principal.role)


def _view(upload: Upload, parts_done: int = 0) -> UploadView:
    return UploadView(
        id=upload.id,
        filename=upload.filename,
        content_type=upload.content_type,
        size_bytes=upload.size_bytes,
        method=upload.method,
        state=upload.state,
        parts_done=parts_done,
        part_count=upload.part_count,
        part_size=upload.part_size,
        created_at=upload.created_at,
        expires_at=upload.expires_at,
        completed_at=upload.completed_at,
        failure_reason=upload.failure_reason,
    )


def _cursor(upload: Upload) -> str:
    raw = f"{upload.created_at.isoformat()}|{upload.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    try:
        created, _, upload_id = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        )
        after = datetime.fromisoformat(created), uuid.UUID(upload_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor", "is not a cursor this API gave", source="query") from None
    if after[0].tzinfo is None:
        raise InvalidInput("cursor", "is not a cursor this API gave", source="query")
    return after


class UploadController(Controller):
    path = "/uploads"
    tags = ["uploads"]
    security = BEARER_SECURITY

    @post(
        "/",
        operation_id="createUpload",
        status_code=201,
        guards=[require_roles("creator", "admin")],
        responses=problems(400, 401, 403, 429, 503),
    )
    async def create_upload(
        self, data: JSONBody[UploadRequest], principal: CurrentPrincipal, deps: DepsParam
    ) -> UploadTicket:
        """Start an upload: a presigned PUT up to the single-PUT size, else an S3 multipart upload."""
        declared = declare(
            data.filename, data.content_type, data.size_bytes, max_bytes=deps.settings.max_upload_bytes
        )
        started = await handlers.start_upload(_caller(principal), declared, deps=deps)
        upload = started.upload
        return UploadTicket(
            upload_id=upload.id,
            method=upload.method,
            expires_at=upload.expires_at,
            url=started.url,
            headers=started.headers,
            part_size=upload.part_size,
            part_count=upload.part_count,
        )

    @get(
        "/",
        operation_id="listUploads",
        guards=[require_roles("creator", "admin")],
        responses=problems(400, 401, 403),
    )
    async def list_uploads(
        self,
        principal: CurrentPrincipal,
        deps: DepsParam,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> UploadPage:
        """The caller's uploads, newest first; pass `next_cursor` back for the next page."""
        page = await handlers.list_uploads(
            _caller(principal), after=_after(cursor), limit=limit + 1, deps=deps
        )
        more = len(page) > limit
        items = page[:limit]
        return UploadPage([_view(u) for u in items], _cursor(items[-1]) if more else None)

    @get("/{upload_id:uuid}", operation_id="getUpload", responses=problems(401, 404, 503))
    async def get_upload(
        self, upload_id: UploadId, principal: CurrentPrincipal, deps: DepsParam
    ) -> UploadView:
        """An upload's state, size and the parts the store holds."""
        upload, parts_done = await handlers.find_upload(_caller(principal), upload_id, deps=deps)
        return _view(upload, parts_done)

    @post(
        "/{upload_id:uuid}/parts",
        operation_id="presignUploadParts",
        status_code=200,
        responses=problems(400, 401, 404, 409, 503),
    )
    async def presign_parts(
        self, upload_id: UploadId, data: JSONBody[PartsRequest], principal: CurrentPrincipal, deps: DepsParam
    ) -> PartUrls:
        """Presigned URLs for the named parts; ask again for the parts a lost connection left out."""
        upload, urls = await handlers.presign_parts(
            _caller(principal), upload_id, data.part_numbers, deps=deps
        )
        return PartUrls(upload.id, [PartUrlView(p.number, p.url, p.size_bytes) for p in urls])

    @get("/{upload_id:uuid}/parts", operation_id="listUploadParts", responses=problems(401, 404, 409, 503))
    async def list_parts(
        self, upload_id: UploadId, principal: CurrentPrincipal, deps: DepsParam
    ) -> StoredParts:
        """The parts the store holds (S3 ListParts): what a resuming client need not send again."""
        parts = await handlers.list_stored_parts(_caller(principal), upload_id, deps=deps)
        return StoredParts(str(upload_id), [StoredPart(p.part_number, p.etag, p.size) for p in parts])

    @post(
        "/{upload_id:uuid}/complete",
        operation_id="completeUpload",
        status_code=200,
        responses=problems(400, 401, 404, 409, 503),
    )
    async def complete(
        self,
        upload_id: UploadId,
        principal: CurrentPrincipal,
        deps: DepsParam,
        data: JSONBody[CompleteRequest | None] = None,
    ) -> UploadView:
        """Verify that the object is in the store as declared and complete the upload (then
        `upload.completed.v1` is published). Completing again answers the same upload."""
        parts = None if data is None or data.parts is None else [(p.number, p.etag) for p in data.parts]
        upload = await handlers.complete_upload(_caller(principal), upload_id, parts, deps=deps)
        return _view(upload, upload.part_count or 1)

    @delete("/{upload_id:uuid}", operation_id="abortUpload", responses=problems(401, 404, 409, 503))
    async def abort(self, upload_id: UploadId, principal: CurrentPrincipal, deps: DepsParam) -> None:
        """Abort an open upload: its parts and object are removed from the store; the upload itself
        stays readable, in state `aborted`."""
        await handlers.abort_upload(_caller(principal), upload_id, deps=deps)


ROUTES: list[ControllerRouterHandler] = [UploadController]
