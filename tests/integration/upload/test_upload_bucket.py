"""`configure-bucket`: the bucket's CORS lets the frontend's origins PUT files and parts and read ETags."""

from __future__ import annotations

import asyncio

import pytest

from codex_platform.testing import S3Settings, unique_name
from codex_upload.cli import CLI
from codex_upload.store import configure_bucket

ORIGINS = ["http://localhost:8080", "https://studio.example.com"]


async def test_configure_bucket_puts_the_cors_rules_a_browser_upload_needs(
    s3_settings: S3Settings,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", s3_settings.endpoint_url)
    monkeypatch.setenv("S3_ACCESS_KEY_ID", s3_settings.access_key_id)
    monkeypatch.setenv("S3_SECRET_ACCESS_KEY", s3_settings.secret_access_key)
    monkeypatch.setenv("S3_REGION", s3_settings.region)
    monkeypatch.setenv("CODEX_UPLOAD_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("CODEX_UPLOAD_CORS_ORIGINS", ",".join(ORIGINS))
    # A command of its own process in make dev and compose; here in a thread, beside the test's loop.
    assert await asyncio.to_thread(CLI.main, ["configure-bucket"]) == 0
    assert s3_bucket in capsys.readouterr().out

    async with s3_settings.storage(s3_bucket) as storage:
        cors = await storage.client.get_bucket_cors(Bucket=s3_bucket)
    [rule] = cors["CORSRules"]
    assert rule["AllowedOrigins"] == ORIGINS
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert rule["ExposeHeaders"] == ["ETag"]
    assert rule["AllowedHeaders"] == ["*"]


async def test_configure_bucket_creates_a_missing_bucket_and_can_run_again(s3_settings: S3Settings) -> None:
    async with s3_settings.storage(unique_name("test-", 12)) as storage:
        await configure_bucket(storage, ["http://a.example"])
        await configure_bucket(storage, ["http://b.example"])
        cors = await storage.client.get_bucket_cors(Bucket=storage.bucket)
        assert cors["CORSRules"][0]["AllowedOrigins"] == ["http://b.example"]
        await storage.client.delete_bucket_cors(Bucket=storage.bucket)
        await storage.client.delete_bucket(Bucket=storage.bucket)
