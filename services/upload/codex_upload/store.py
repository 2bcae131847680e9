"""What the upload service asks of the object store, on the platform's `Storage`.

What binds the bytes to the declaration, and where:
- The presigned PUT signs `Content-Type` and `Content-Length` (botocore lists both in
  X-Amz-SignedHeaders when they are presign parameters), and each part URL signs its part's
  `Content-Length`: S3, R2 and MinIO answer 403 SignatureDoesNotMatch to a request that sends other
  values. A part's content type is fixed once, at CreateMultipartUpload.
- The PUT also signs `If-None-Match: *` (a conditional write): once the object is in, the store
  answers 412 to another PUT through the same URL, so completed bytes cannot be swapped under the
  pipeline while the URL lives (S3 and moto honour it, as do recent MinIO and R2).
- moto (the tests' S3 server) checks none of this, and no store checks what a client declares
  beside the signature. So completion HEADs the object and compares size and type with the
  declaration (domain.refusal_of): that check is what stands between unvouched bytes and an event,
  on every store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from codex_platform.errors import Conflict, Unavailable
from codex_platform.storage import ObjectInfo, Storage, UploadedPart
from codex_upload.domain import ObjectMissing, Upload

# CompleteMultipartUpload's refusals that the client can mend by sending parts again.
_PART_PROBLEMS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable() -> Unavailable:
    return Unavailable("The object store is not answering; try again shortly")


@contextmanager
def store_errors() -> Iterator[None]:
    """An object store that fails or cannot be reached answers 503, never a 500."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise _unavailable() from exc


def put_headers(upload: Upload) -> dict[str, str]:
    """The headers the single PUT must carry, exactly (all are in its signature).

    A browser sets Content-Length itself (it may not be set by a page); it is listed for scripts.
    """
    return {
        "Content-Type": upload.content_type,
        "Content-Length": str(upload.size_bytes),
        "If-None-Match": "*",
    }


async def presign_put(storage: Storage, upload: Upload, expires_in: int) -> str:
    with store_errors():
        return await storage.presign_put(
            upload.object_key,
            content_type=upload.content_type,
            content_length=upload.size_bytes,
            if_none_match="*",
            expires_in=expires_in,
        )


async def start_multipart(storage: Storage, key: str, content_type: str) -> str:
    with store_errors():
        return await storage.create_multipart_upload(key, content_type=content_type)


async def presign_part(storage: Storage, upload: Upload, number: int, expires_in: int) -> str:
    assert upload.multipart_id is not None
    with store_errors():
        return await storage.presign_upload_part(
            upload.object_key,
            upload.multipart_id,
            number,
            content_length=upload.plan.length_of(number, upload.size_bytes),
            expires_in=expires_in,
        )


async def stored_parts(storage: Storage, upload: Upload) -> list[UploadedPart]:
    """The parts the store holds; none once the multipart upload is completed or aborted."""
    assert upload.multipart_id is not None
    try:
        return await storage.list_parts(upload.object_key, upload.multipart_id)
    except ClientError as exc:
        if _code(exc) == "NoSuchUpload":
            return []
        raise _unavailable() from exc
    except BotoCoreError as exc:
        raise _unavailable() from exc


async def assemble(storage: Storage, upload: Upload, parts: Sequence[UploadedPart] | None) -> None:
    """Complete the multipart upload from `parts` (default: the parts the store lists, all of them).

    NoSuchUpload is not an error: the store completed it on an earlier try whose answer was lost
    (or it was aborted); the HEAD that follows tells which. The store's other refusals of the parts
    (a wrong ETag, a part too small) are the client's to mend: 409, and the upload stays open.
    """
    assert upload.multipart_id is not None
    if parts is None:
        parts = await stored_parts(storage, upload)
        if not parts:
            return  # nothing to assemble: the HEAD tells whether it was assembled before
        held = {p.part_number for p in parts}
        lacking = sorted(set(range(1, upload.plan.part_count + 1)) - held)
        if lacking:
            shown = ", ".join(map(str, lacking[:20])) + (" ..." if len(lacking) > 20 else "")
            raise ObjectMissing(f"The store lacks parts {shown}: upload them, then complete")
    try:
        await storage.complete_multipart_upload(upload.object_key, upload.multipart_id, parts)
    except ClientError as exc:
        code = _code(exc)
        if code == "NoSuchUpload":
            return
        if code in _PART_PROBLEMS or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 400:
            message = exc.response.get("Error", {}).get("Message") or code
            raise Conflict(f"The store refused the parts: {message}") from exc
        raise _unavailable() from exc
    except BotoCoreError as exc:
        raise _unavailable() from exc


async def inspect(storage: Storage, key: str) -> ObjectInfo | None:
    with store_errors():
        return await storage.head(key)


async def discard(storage: Storage, upload: Upload) -> None:
    """Free what an upload that will never complete holds in the store: its parts and any object."""
    with store_errors():
        if upload.multipart_id is not None:
            await storage.abort_multipart_upload(upload.object_key, upload.multipart_id)
        await storage.delete(upload.object_key)


def cors_rules(origins: Sequence[str]) -> dict[str, Any]:
    """The bucket CORS a browser upload needs: PUT (file and parts) from the frontend's origins,
    GET/HEAD for playback, and ETag exposed, since a page cannot read a part's ETag otherwise."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": list(origins),
                "AllowedMethods": ["PUT", "GET", "HEAD"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 3600,
            }
        ]
    }


async def configure_bucket(storage: Storage, origins: Sequence[str]) -> None:
    """Create the bucket if missing and put its CORS rules (idempotent: `cli configure-bucket`)."""
    await storage.ensure_bucket()
    await storage.client.put_bucket_cors(Bucket=storage.bucket, CORSConfiguration=cors_rules(origins))
