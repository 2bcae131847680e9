"""Network failures are retried, then reported as retryable; presigned signatures never reach a log."""

from __future__ import annotations

import logging

from codex_gpu.devstore import SIGNATURE


def test_download_500_is_retryable(transcode_job, store, clips):
    store.fail("GET", "src/source", 500)
    result = transcode_job(clips.bytes("small.mp4"))
    assert result.status == "failed"
    assert (result.error.code, result.error.retryable) == ("DOWNLOAD_FAILED", True)
    assert "HTTP 500" in result.error.message
    assert store.requests.count(("GET", "src/source")) == 2  # the configured attempts
    assert not store.puts


def test_download_recovers_from_one_transient_error(transcode_job, store, clips):
    store.fail("GET", "src/source", 503, times=1)
    result = transcode_job(clips.bytes("small.mp4"))
    assert result.status == "succeeded", result.error


def test_download_403_is_not_retried_here_but_is_retryable(transcode_job, store, clips):
    store.fail("GET", "src/source", 403)
    result = transcode_job(clips.bytes("small.mp4"))
    assert (result.error.code, result.error.retryable) == ("DOWNLOAD_FAILED", True)
    assert store.requests.count(("GET", "src/source")) == 1  # the same URL would answer the same


def test_unreachable_source_is_retryable(transcode_job, store):
    result = transcode_job(None, source_url="http://127.0.0.1:9/nothing?" + SIGNATURE)
    assert (result.error.code, result.error.retryable) == ("DOWNLOAD_FAILED", True)


def test_upload_failure_is_retryable_and_reports_no_rendition(transcode_job, store, clips):
    store.fail("PUT", "out/720p.mp4", 500)
    result = transcode_job(clips.bytes("small.mp4"))
    assert result.status == "failed"
    assert (result.error.code, result.error.retryable) == ("UPLOAD_FAILED", True)
    assert result.renditions == [] and result.thumbnail is None
    assert store.requests.count(("PUT", "out/720p.mp4")) == 2


def test_uploads_are_streamed_with_a_content_length(transcode_job, store, clips):
    result = transcode_job(clips.bytes("small.mp4"))
    assert result.status == "succeeded", result.error
    for key, put in store.puts.items():
        assert int(put.headers["Content-Length"]) == len(put.body) > 0, key
        assert "Transfer-Encoding" not in put.headers  # S3 presigned PUTs refuse chunked bodies


def test_signatures_never_reach_logs_or_errors(transcode_job, store, clips, caplog):
    caplog.set_level(logging.DEBUG)
    store.fail("PUT", "out/thumb.jpg", 502)
    result = transcode_job(clips.bytes("small.mp4"))
    assert result.error.code == "UPLOAD_FAILED"
    assert "/out/thumb.jpg" in result.error.message
    text = caplog.text + result.error.message
    assert "thumb.jpg" in caplog.text
    assert "Signature" not in text and "secretsignature" not in text
