"""S3 access for the services: presigned URLs for clients, multipart uploads, object metadata.

Works against AWS S3, R2, MinIO and moto alike: path-style addressing (no bucket DNS names on a
local endpoint) and signature v4. Use it as an async context manager, which holds one client::

    async with Storage.from_settings(settings) as storage:
        url = await storage.presign_put("uploads/1/source.mp4", content_type="video/mp4")
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from codex_platform.settings import BaseSettings

__all__ = ["ObjectInfo", "Storage", "UploadedPart"]

DEFAULT_EXPIRY_SECONDS = 900
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class ObjectInfo:
    """What `head` tells about a stored object."""

    size: int
    content_type: str | None
    etag: str


@dataclass(frozen=True)
class UploadedPart:
    """One uploaded part of a multipart upload, as S3 lists it."""

    part_number: int
    etag: str
    size: int


def _config() -> AioConfig:
    return AioConfig(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # botocore >= 1.36 adds CRC32 checksums by default; S3-compatible servers (MinIO, moto,
        # R2) and presigned URLs (no body to hash at signing time) do not all accept them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )


class Storage:
    """One bucket on an S3 API, with presigned URLs signed for the clients' endpoint."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        """`public_endpoint_url` is where clients reach S3 if not `endpoint_url` (compose)."""
        self.bucket = bucket
        self._region = region
        self._endpoint_url = endpoint_url
        self._public_endpoint_url = public_endpoint_url or endpoint_url
        self._session = aioboto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._presigner: Any = None

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, bucket: str | None = None) -> Storage:
        """A `Storage` for the `s3_*` settings (and `bucket` instead of `s3_bucket` if given)."""
        return cls(
            bucket=bucket or settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )

    async def open(self) -> None:
        """Create the clients; `async with storage:` calls this."""
        if self._stack is not None:
            return
        stack = AsyncExitStack()
        config = _config()
        self._client = await stack.enter_async_context(
            self._session.client("s3", endpoint_url=self._endpoint_url, config=config)
        )
        if self._public_endpoint_url == self._endpoint_url:
            self._presigner = self._client
        else:
            # Presigning is offline, but the signature covers the host: sign for the public one.
            self._presigner = await stack.enter_async_context(
                self._session.client("s3", endpoint_url=self._public_endpoint_url, config=config)
            )
        self._stack = stack

    async def close(self) -> None:
        """Close the clients."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            self._client = self._presigner = None
            await stack.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def client(self) -> Any:
        """The underlying aiobotocore S3 client, for operations this class does not wrap."""
        if self._client is None:
            raise RuntimeError("Storage is not open: use `async with storage:` or `await storage.open()`")
        return self._client

    async def _presign(self, method: str, params: dict[str, Any], expires_in: int) -> str:
        if self._presigner is None:
            raise RuntimeError("Storage is not open: use `async with storage:` or `await storage.open()`")
        url: str = await self._presigner.generate_presigned_url(
            ClientMethod=method, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires_in
        )
        return url

    async def presign_get(
        self,
        key: str,
        *,
        expires_in: int = DEFAULT_EXPIRY_SECONDS,
        download_name: str | None = None,
        response_content_type: str | None = None,
    ) -> str:
        """A URL that lets its holder GET `key` for `expires_in` seconds."""
        params: dict[str, Any] = {"Key": key}
        if download_name is not None:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        if response_content_type is not None:
            params["ResponseContentType"] = response_content_type
        return await self._presign("get_object", params, expires_in)

    async def presign_put(
        self,
        key: str,
        *,
        content_type: str | None = None,
        content_length: int | None = None,
        if_none_match: str | None = None,
        expires_in: int = DEFAULT_EXPIRY_SECONDS,
    ) -> str:
        """A URL to PUT `key`; with `content_type` / `content_length`, those headers are signed
        (X-Amz-SignedHeaders), so S3 and MinIO refuse an upload that sends other values.
        `if_none_match="*"` signs a conditional write: the store answers 412 while `key` exists."""
        params: dict[str, Any] = {"Key": key}
        if content_type is not None:
            params["ContentType"] = content_type
        if content_length is not None:
            params["ContentLength"] = content_length
        if if_none_match is not None:
            params["IfNoneMatch"] = if_none_match
        return await self._presign("put_object", params, expires_in)

    async def create_multipart_upload(self, key: str, *, content_type: str | None = None) -> str:
        """Start a multipart upload of `key`; returns its upload id."""
        extra = {"ContentType": content_type} if content_type is not None else {}
        response = await self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        upload_id: str = response["UploadId"]
        return upload_id

    async def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        content_length: int | None = None,
        expires_in: int = DEFAULT_EXPIRY_SECONDS,
    ) -> str:
        """A URL to PUT part `part_number` (1-10000) of a multipart upload; its ETag header is the proof.
        With `content_length`, the part's Content-Length is signed (the store refuses another)."""
        if not 1 <= part_number <= 10_000:
            raise ValueError(f"part_number must be within 1..10000, got {part_number}")
        params: dict[str, Any] = {"Key": key, "UploadId": upload_id, "PartNumber": part_number}
        if content_length is not None:
            params["ContentLength"] = content_length
        return await self._presign("upload_part", params, expires_in)

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        """The parts uploaded so far, by part number (every page of the listing)."""
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            response = await self.client.list_parts(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
            )
            parts.extend(
                UploadedPart(part_number=p["PartNumber"], etag=p["ETag"], size=p["Size"])
                for p in response.get("Parts", [])
            )
            if not response.get("IsTruncated"):
                return parts
            marker = int(response["NextPartNumberMarker"])

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: Sequence[UploadedPart] | None = None
    ) -> str:
        """Assemble the upload from `parts` (default: every listed part); returns the ETag."""
        chosen = list(parts) if parts is not None else await self.list_parts(key, upload_id)
        response = await self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": p.part_number, "ETag": p.etag}
                    for p in sorted(chosen, key=lambda p: p.part_number)
                ]
            },
        )
        etag: str = response["ETag"]
        return etag

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Abort the upload and free its parts; an upload that is already gone is not an error."""
        try:
            await self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    async def head(self, key: str) -> ObjectInfo | None:
        """Size, content type and ETag of `key`, or None when there is no such object."""
        try:
            response = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise
        return ObjectInfo(
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
            etag=response["ETag"],
        )

    async def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        """Store a small object directly (large ones go through presigned URLs)."""
        extra = {"ContentType": content_type} if content_type is not None else {}
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)

    async def get_bytes(self, key: str) -> bytes | None:
        """The content of a small object, or None when there is no such object."""
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, key: str) -> None:
        """Delete `key`; deleting a missing object is not an error (S3 semantics)."""
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (local development and tests)."""
        try:
            await self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in _NOT_FOUND:
                raise
        # us-east-1 is the one region that must not be named as a location constraint.
        location = {} if self._region == "us-east-1" else {"LocationConstraint": self._region}
        try:
            await self.client.create_bucket(
                Bucket=self.bucket, **({"CreateBucketConfiguration": location} if location else {})
            )
        except ClientError as exc:
            # Another replica created it between our head and create.
            if exc.response.get("Error", {}).get("Code") not in {"BucketAlreadyOwnedByYou"}:
                raise
