"""Storage against a real S3 API (moto server, MinIO or S3): clients use the URLs with plain HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from codex_platform.storage import ObjectInfo, Storage, UploadedPart
from codex_platform.testing import S3Settings, unique_name

MiB = 1024 * 1024


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def test_presigned_put_then_head_shows_size_and_type(storage: Storage, http: httpx.AsyncClient) -> None:
    url = await storage.presign_put("uploads/u1/source.mp4", content_type="video/mp4", expires_in=300)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert urlsplit(url).path == f"/{storage.bucket}/uploads/u1/source.mp4"  # path-style addressing

    response = await http.put(url, content=b"\x00" * 1234, headers={"Content-Type": "video/mp4"})

    assert response.status_code == 200, response.text
    info = await storage.head("uploads/u1/source.mp4")
    assert info == ObjectInfo(size=1234, content_type="video/mp4", etag=response.headers["ETag"])


async def test_presigned_get_downloads_the_object(storage: Storage, http: httpx.AsyncClient) -> None:
    await storage.put_bytes("renditions/a/720.mp4", b"movie bytes", content_type="video/mp4")

    url = await storage.presign_get("renditions/a/720.mp4", download_name="720.mp4")
    response = await http.get(url)

    assert response.status_code == 200
    assert response.content == b"movie bytes"
    assert response.headers["Content-Disposition"] == 'attachment; filename="720.mp4"'


async def test_multipart_upload_through_presigned_part_urls(
    storage: Storage, http: httpx.AsyncClient
) -> None:
    key = "uploads/u2/large.mp4"
    chunks = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"c" * MiB]  # every part but the last >= 5 MiB
    upload_id = await storage.create_multipart_upload(key, content_type="video/mp4")

    etags = {}
    for number, chunk in enumerate(chunks, start=1):
        url = await storage.presign_upload_part(key, upload_id, number)
        response = await http.put(url, content=chunk)
        assert response.status_code == 200, response.text
        etags[number] = response.headers["ETag"]

    parts = await storage.list_parts(key, upload_id)
    assert parts == [UploadedPart(n, etags[n], len(chunks[n - 1])) for n in (1, 2, 3)]
    assert await storage.head(key) is None  # nothing is visible before completion

    etag = await storage.complete_multipart_upload(key, upload_id, parts)

    assert etag.strip('"').endswith("-3")
    info = await storage.head(key)
    assert info is not None
    assert (info.size, info.content_type) == (11 * MiB, "video/mp4")
    body = await storage.get_bytes(key)
    assert body is not None
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(chunks)).digest()


async def test_complete_without_parts_uses_the_listed_parts(
    storage: Storage, http: httpx.AsyncClient
) -> None:
    key = "uploads/u3/one-part.bin"
    upload_id = await storage.create_multipart_upload(key)
    await http.put(await storage.presign_upload_part(key, upload_id, 1), content=b"small last part")

    await storage.complete_multipart_upload(key, upload_id)

    assert await storage.get_bytes(key) == b"small last part"


async def test_abort_removes_the_upload_and_its_parts(storage: Storage, http: httpx.AsyncClient) -> None:
    key = "uploads/u4/abandoned.mp4"
    upload_id = await storage.create_multipart_upload(key, content_type="video/mp4")
    await http.put(await storage.presign_upload_part(key, upload_id, 1), content=b"x" * 1024)

    await storage.abort_multipart_upload(key, upload_id)

    uploads = await storage.client.list_multipart_uploads(Bucket=storage.bucket)
    assert [u["UploadId"] for u in uploads.get("Uploads", [])] == []
    with pytest.raises(ClientError) as raised:
        await storage.list_parts(key, upload_id)
    assert raised.value.response["Error"]["Code"] == "NoSuchUpload"
    assert await storage.head(key) is None
    await storage.abort_multipart_upload(key, upload_id)  # a second abort is harmless


async def test_head_and_delete_of_missing_objects(storage: Storage) -> None:
    assert await storage.head("nothing/here") is None
    assert await storage.get_bytes("nothing/here") is None
    await storage.delete("nothing/here")

    await storage.put_bytes("thumbs/t.jpg", b"jpeg", content_type="image/jpeg")
    await storage.delete("thumbs/t.jpg")
    assert await storage.head("thumbs/t.jpg") is None


async def test_part_numbers_outside_1_to_10000_are_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="part_number"):
        await storage.presign_upload_part("k", "upload", 0)


async def test_urls_are_signed_for_the_public_endpoint(s3_settings: S3Settings, s3_bucket: str) -> None:
    storage = Storage(
        bucket=s3_bucket,
        endpoint_url=s3_settings.endpoint_url,
        public_endpoint_url="https://media.codex.example",
        region=s3_settings.region,
        access_key_id=s3_settings.access_key_id,
        secret_access_key=s3_settings.secret_access_key,
    )
    async with storage:
        url = await storage.presign_get("renditions/a/1080.mp4")
        await storage.put_bytes("k", b"v")  # calls still go to the internal endpoint
        assert await storage.head("k") is not None

    assert url.startswith(f"https://media.codex.example/{s3_bucket}/renditions/a/1080.mp4?")


async def test_ensure_bucket_is_idempotent_and_a_closed_storage_says_so(s3_settings: S3Settings) -> None:
    storage = s3_settings.storage(unique_name("test-ensure-"))
    with pytest.raises(RuntimeError, match="not open"):
        await storage.head("k")
    async with storage:
        await storage.ensure_bucket()
        await storage.ensure_bucket()
        await storage.client.delete_bucket(Bucket=storage.bucket)
