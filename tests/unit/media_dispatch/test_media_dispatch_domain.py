"""The asset's rules without I/O: what each RunPod report makes of an asset, and the webhook secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from codex_media_dispatch.domain import (
    AssetSnapshot,
    Policy,
    check_cancel,
    check_retry,
    decide,
    observe,
    token_hash,
    token_matches,
)
from codex_media_dispatch.runpod import RunpodClient, RunpodRejected, RunpodUnavailable, retry_after_s
from codex_platform.errors import Conflict

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
POLICY = Policy(max_attempts=3, retry_base_s=5, retry_max_s=60, stuck_in_queue_s=600)
RENDITION = {
    "name": "720p", "width": 1280, "height": 720, "codec": "h264", "profile": "High", "pix_fmt": "yuv420p",
    "fps": 30.0, "bitrate": 2_000_000, "size_bytes": 1000, "duration_s": 10.0, "has_audio": True,
}  # fmt: skip


def running(attempts: int = 1, submitted_ago_s: float = 5) -> AssetSnapshot:
    return AssetSnapshot("running", attempts, NOW - timedelta(seconds=submitted_ago_s))


def completed(**extra: Any) -> dict[str, Any]:
    output = {"job_id": "j", "status": "succeeded", "renditions": [RENDITION], "encoder": "libx264"}
    return {"id": "rp-1", "status": "COMPLETED", "executionTime": 4200, "output": output, **extra}


def test_completed_with_renditions_makes_the_asset_ready() -> None:
    seen = observe("j", completed())
    assert seen.kind == "completed" and seen.execution_s == 4.2 and seen.runpod_id == "rp-1"
    transition = decide(running(), seen, POLICY, NOW)
    assert transition is not None and transition.to == "ready"


def test_reports_about_a_decided_asset_change_nothing() -> None:
    # late, duplicated, or a second execution's webhook: the asset is already decided
    for state in ("ready", "failed", "canceled", "queued"):
        assert decide(AssetSnapshot(state, 1, NOW), observe("j", completed()), POLICY, NOW) is None


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        ({"status": "COMPLETED"}, "no_output", "NO_OUTPUT"),
        ({"status": "TIMED_OUT"}, "timed_out", "TIMED_OUT"),
        (None, "lost", "LOST"),
        ({"status": "FAILED", "error": "Traceback ... MemoryError"}, "failed", "INTERNAL"),
        # the worker's classified error as RunPod carries it: a JSON string (a dict also reads)
        (
            {
                "status": "FAILED",
                "error": json.dumps({"code": "DOWNLOAD_FAILED", "message": "x", "retryable": True}),
            },
            "failed",
            "DOWNLOAD_FAILED",
        ),
        ({"status": "CANCELLED"}, "cancelled", "CANCELLED"),
    ],
)
def test_retryable_reports_queue_the_asset_again_with_backoff(
    body: dict[str, Any] | None, kind: str, code: str
) -> None:
    seen = observe("j", body)
    assert seen.kind == kind
    transition = decide(running(attempts=1), seen, POLICY, NOW)
    assert transition is not None and transition.to == "queued" and transition.error_code == code
    assert transition.resubmit_after_s is not None and 2.5 <= transition.resubmit_after_s <= 5
    later = decide(running(attempts=2), seen, POLICY, NOW)
    assert later is not None and later.resubmit_after_s is not None and 5 <= later.resubmit_after_s <= 10


def test_retryable_failures_end_in_failed_after_the_last_attempt() -> None:
    transition = decide(running(attempts=3), observe("j", None), POLICY, NOW)
    assert transition is not None and transition.to == "failed"
    assert transition.error_code == "LOST" and transition.retryable


def test_a_permanent_error_fails_at_once_whatever_the_attempts_left() -> None:
    error = {"code": "NOT_A_VIDEO", "message": "not a video", "retryable": False}
    for raw in (error, json.dumps(error)):
        transition = decide(
            running(attempts=1), observe("j", {"status": "FAILED", "error": raw}), POLICY, NOW
        )
        assert transition is not None and transition.to == "failed"
        assert transition.error_code == "NOT_A_VIDEO" and not transition.retryable


def test_progress_and_the_first_sign_of_running() -> None:
    seen = observe("j", {"status": "IN_PROGRESS", "output": {"stage": "transcode", "percent": 40}})
    assert seen.kind == "running" and seen.progress == {"stage": "transcode", "percent": 40}
    submitted = AssetSnapshot("submitted", 1, NOW)
    assert (t := decide(submitted, seen, POLICY, NOW)) is not None and t.to == "running"
    assert decide(running(), seen, POLICY, NOW) is None  # only progress changes


def test_a_job_stuck_in_runpods_queue_is_cancelled_and_resubmitted() -> None:
    seen = observe("j", {"status": "IN_QUEUE"})
    assert decide(AssetSnapshot("submitted", 1, NOW - timedelta(seconds=60)), seen, POLICY, NOW) is None
    stuck = decide(AssetSnapshot("submitted", 1, NOW - timedelta(seconds=601)), seen, POLICY, NOW)
    assert stuck is not None and stuck.to == "queued" and stuck.cancel_first


def test_the_webhook_secret_is_compared_by_its_hash() -> None:
    stored = token_hash("s3cret")
    assert token_matches("s3cret", stored)
    assert not token_matches("s3cret!", stored)
    assert not token_matches("s3cret", None)  # unknown job


def test_admin_retry_and_cancel_rules() -> None:
    check_retry("failed")
    check_retry("canceled")
    with pytest.raises(Conflict):
        check_retry("ready")
    check_cancel("running")
    with pytest.raises(Conflict):
        check_cancel("ready")


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


async def test_the_runpod_client_sorts_answers_into_retry_and_refusal() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(503),
            httpx.Response(401, json={"error": "bad key"}),
            httpx.Response(200, json={"id": "rp-9", "status": "IN_QUEUE"}),
            httpx.Response(404, json={"error": "job not found"}),
        ]
    )
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    client = RunpodClient("https://api.runpod.test/v2/ep", "key", transport=httpx.MockTransport(handle))
    run = {"webhook": "https://x/hook", "execution_timeout_ms": 1000, "ttl_ms": 20000}
    with pytest.raises(RunpodUnavailable) as throttled:
        await client.run({"a": 1}, **run)  # type: ignore[arg-type]
    assert throttled.value.retry_after_s == 3.0 and throttled.value.status == 429
    with pytest.raises(RunpodUnavailable):
        await client.run({"a": 1}, **run)  # type: ignore[arg-type]
    with pytest.raises(RunpodRejected):
        await client.run({"a": 1}, **run)  # type: ignore[arg-type]
    assert await client.run({"a": 1}, **run) == "rp-9"  # type: ignore[arg-type]
    assert await client.status("rp-9") is None
    await client.aclose()
    body = json.loads(seen[3].content)
    assert body == {
        "input": {"a": 1},
        "webhook": "https://x/hook",
        "policy": {"executionTimeout": 1000, "ttl": 20000},
    }
    assert seen[3].url.path == "/v2/ep/run" and seen[3].headers["authorization"] == "Bearer key"
    assert seen[4].url.path == "/v2/ep/status/rp-9"
