"""From upload.completed to media.asset.ready/failed against real Postgres and S3, RunPod faked as
documented (conftest.py): submission, backpressure, 429 with Retry-After, and what the reconciler does
with each kind of RunPod report."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from media_dispatch_support import FakeRunpod, asset_of, deliver, events, upload_completed, worker_output

from codex_contracts.transcode import TranscodeJobV1
from codex_media_dispatch.bootstrap import Deps, bootstrap
from codex_media_dispatch.dispatch import submit_waiting
from codex_media_dispatch.reconciler import reconcile_once
from codex_media_dispatch.transitions import apply_report
from codex_platform.storage import Storage


async def test_an_upload_becomes_one_asset_submitted_as_runpod_documents(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload = upload_completed(deps.storage.bucket)
    await deliver(deps, upload)
    await deliver(deps, upload)  # the same upload told twice (a replay with a new message id)
    assert await deps.pool.fetchval("SELECT count(*) FROM assets") == 1
    assert await submit_waiting(deps) == 1
    assert await submit_waiting(deps) == 0

    [run] = fake_runpod.runs
    job = msgspec.convert(run["input"], TranscodeJobV1)
    asset = await asset_of(deps.pool, upload.upload_id)
    assert job.asset_id == asset["id"] and job.job_id == asset["job_id"]
    assert asset["state"] == "submitted" and asset["attempts"] == 1 and asset["runpod_job_id"] == run["id"]
    assert run["policy"] == {"executionTimeout": 3600 * 1000, "ttl": 600 * 1000}
    # the presigned URLs outlive the job's ttl at RunPod
    for url in [job.source_url, job.thumbnail_url, *job.outputs.values()]:
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["900"]
    assert set(job.outputs) == {"1080p", "720p"}
    assert f"/videos/720p/{asset['id']}.mp4" in job.outputs["720p"]
    assert urlsplit(job.source_url).path.endswith(upload.key)
    webhook = urlsplit(run["webhook"])
    assert f"{webhook.scheme}://{webhook.netloc}{webhook.path}" == (
        f"https://media.example.test/webhooks/runpod/{asset['job_id']}"
    )
    token = parse_qs(webhook.query)["token"][0]
    assert len(token) >= 40
    stored = await deps.pool.fetchval("SELECT token_hash FROM jobs WHERE id = $1", asset["job_id"])
    assert token.encode() not in stored  # only its hash is kept


async def test_at_most_n_jobs_in_flight_and_the_rest_wait_in_order(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    uploads = [upload_completed(deps.storage.bucket) for _ in range(4)]
    for upload in uploads:
        await deliver(deps, upload)
    assert await submit_waiting(deps) == 2  # max_in_flight = 2
    assert await submit_waiting(deps) == 0
    states = [(await asset_of(deps.pool, u.upload_id))["state"] for u in uploads]
    assert states == ["submitted", "submitted", "queued", "queued"]

    first = await asset_of(deps.pool, uploads[0].upload_id)
    fake_runpod.statuses[first["runpod_job_id"]] = {
        "id": first["runpod_job_id"], "status": "COMPLETED", "executionTime": 1500,
        "output": await worker_output(deps.storage, first["id"], first["job_id"]),
    }  # fmt: skip
    await reconcile_once(deps)
    assert (await asset_of(deps.pool, uploads[0].upload_id))["state"] == "ready"
    assert await submit_waiting(deps) == 1
    states = [(await asset_of(deps.pool, u.upload_id))["state"] for u in uploads]
    assert states == ["ready", "submitted", "submitted", "queued"]


async def test_429_and_5xx_from_run_are_retried_after_retry_after_and_submitted_once(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload = upload_completed(deps.storage.bucket)
    await deliver(deps, upload)
    fake_runpod.refuse_runs((429, "1"), (503, None))
    assert await submit_waiting(deps) == 1
    asset = await asset_of(deps.pool, upload.upload_id)
    assert asset["state"] == "queued" and asset["attempts"] == 0 and asset["submit_failures"] == 1
    assert await submit_waiting(deps) == 0  # Retry-After: 1 is honoured
    await asyncio.sleep(1.05)
    assert await submit_waiting(deps) == 1  # 503: back-off, then accepted
    deadline = time.monotonic() + 5
    while not fake_runpod.runs and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        await submit_waiting(deps)
    assert fake_runpod.refused == 2 and len(fake_runpod.runs) == 1
    asset = await asset_of(deps.pool, upload.upload_id)
    assert asset["state"] == "submitted" and asset["attempts"] == 1


async def submitted(deps: Deps, fake_runpod: FakeRunpod) -> tuple[str, Any]:
    upload = upload_completed(deps.storage.bucket)
    await deliver(deps, upload)
    assert await submit_waiting(deps) == 1
    return upload.upload_id, await asset_of(deps.pool, upload.upload_id)


async def test_the_reconciler_finishes_a_job_whose_webhook_never_came(
    deps: Deps, fake_runpod: FakeRunpod, storage: Storage
) -> None:
    upload_id, asset = await submitted(deps, fake_runpod)
    rp = asset["runpod_job_id"]
    fake_runpod.statuses[rp] = {
        "id": rp,
        "status": "IN_PROGRESS",
        "output": {"stage": "transcode", "percent": 40},
    }
    await reconcile_once(deps)
    running = await asset_of(deps.pool, upload_id)
    assert running["state"] == "running" and running["progress_percent"] == 40
    output = await worker_output(storage, asset["id"], asset["job_id"])
    fake_runpod.statuses[rp] = {"id": rp, "status": "COMPLETED", "executionTime": 2500, "output": output}
    await reconcile_once(deps)
    await reconcile_once(deps)  # nothing more to do
    ready = await asset_of(deps.pool, upload_id)
    assert ready["state"] == "ready" and ready["gpu_seconds"] == 2.5 and ready["encoder"] == "libx264"
    [event] = await events(deps.pool, "media.asset.ready.v1")
    assert event["asset_id"] == asset["id"] and event["upload_id"] == upload_id
    assert event["renditions"][0]["key"] == f"videos/720p/{asset['id']}.mp4"
    assert event["thumbnail_key"] == f"thumbnails/{asset['id']}.jpg"


async def test_completed_whose_outputs_are_missing_or_without_output_is_resubmitted(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload_id, asset = await submitted(deps, fake_runpod)
    rp = asset["runpod_job_id"]
    output = await worker_output(deps.storage, asset["id"], asset["job_id"])
    await deps.storage.delete(f"videos/720p/{asset['id']}.mp4")
    fake_runpod.statuses[rp] = {"id": rp, "status": "COMPLETED", "output": output}
    await reconcile_once(deps)
    again = await asset_of(deps.pool, upload_id)
    assert (
        again["state"] == "queued"
        and again["error_code"] == "OUTPUTS_MISSING"
        and again["resubmissions"] == 1
    )
    await asyncio.sleep(0.25)
    deadline = time.monotonic() + 5
    while await submit_waiting(deps) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    second = await asset_of(deps.pool, upload_id)
    assert second["state"] == "submitted" and second["attempts"] == 2 and second["job_id"] != asset["job_id"]
    fake_runpod.statuses[second["runpod_job_id"]] = {"id": second["runpod_job_id"], "status": "COMPLETED"}
    await reconcile_once(deps)
    third = await asset_of(deps.pool, upload_id)
    assert third["state"] == "queued" and third["error_code"] == "NO_OUTPUT"
    assert await events(deps.pool) == []


async def test_a_lost_job_is_resubmitted_up_to_the_limit_then_failed_once(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload_id, _ = await submitted(deps, fake_runpod)
    for _ in range(3):
        asset = await asset_of(deps.pool, upload_id)
        if asset["state"] == "queued":
            deadline = time.monotonic() + 5
            while await submit_waiting(deps) == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            asset = await asset_of(deps.pool, upload_id)
        del fake_runpod.statuses[asset["runpod_job_id"]]  # ttl passed: /status answers 404
        await reconcile_once(deps)
    failed = await asset_of(deps.pool, upload_id)
    assert failed["state"] == "failed" and failed["error_code"] == "LOST" and failed["attempts"] == 3
    [event] = await events(deps.pool, "media.asset.failed.v1")
    assert event["error_code"] == "LOST" and event["retryable"] is True
    assert len(fake_runpod.runs) == 3


async def test_a_permanently_bad_file_fails_once_without_resubmission(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload_id, asset = await submitted(deps, fake_runpod)
    rp = asset["runpod_job_id"]
    error = '{"code": "NOT_A_VIDEO", "message": "the file is not a video", "retryable": false}'
    fake_runpod.statuses[rp] = {"id": rp, "status": "FAILED", "error": error, "executionTime": 300}
    await reconcile_once(deps)
    await reconcile_once(deps)
    failed = await asset_of(deps.pool, upload_id)
    assert failed["state"] == "failed" and failed["error_code"] == "NOT_A_VIDEO" and failed["attempts"] == 1
    [event] = await events(deps.pool, "media.asset.failed.v1")
    assert event["error_code"] == "NOT_A_VIDEO" and event["retryable"] is False
    assert await submit_waiting(deps) == 0 and len(fake_runpod.runs) == 1


async def test_a_claim_whose_submitter_died_is_queued_again(settings_factory: Any, deps: Deps) -> None:
    upload = upload_completed(deps.storage.bucket)
    await deliver(deps, upload)
    # as if the process died between the claim and RunPod's answer: claimed, no RunPod id
    await deps.pool.execute(
        "UPDATE assets SET state = 'submitted', job_id = 'job_x', attempts = 1, check_at = now(), "
        "last_submitted_at = now()"
    )
    await deps.pool.execute(
        "INSERT INTO jobs (id, asset_id, attempt, token_hash) SELECT 'job_x', id, 1, '\\x00' FROM assets"
    )
    await reconcile_once(deps)
    asset = await asset_of(deps.pool, upload.upload_id)
    assert asset["state"] == "queued" and asset["error_code"] == "LOST"


async def test_a_job_stuck_in_runpods_queue_is_cancelled_and_resubmitted(
    settings_factory: Any, db_pool: Any, storage: Storage, fake_runpod: FakeRunpod
) -> None:
    settings = settings_factory(stuck_in_queue_s=0.5)
    async with bootstrap(
        settings, pool=db_pool, storage=storage, runpod_transport=fake_runpod.transport
    ) as deps:
        upload_id, asset = await submitted(deps, fake_runpod)
        await reconcile_once(deps)  # IN_QUEUE, not for long yet
        assert (await asset_of(deps.pool, upload_id))["state"] == "submitted"
        await asyncio.sleep(0.6)
        await reconcile_once(deps)
        stuck = await asset_of(deps.pool, upload_id)
        assert stuck["state"] == "queued" and stuck["error_code"] == "STUCK_IN_QUEUE"
        assert fake_runpod.cancelled == [asset["runpod_job_id"]]
        assert fake_runpod.health_reads == 1  # what RunPod says of its workers, logged for the operator


async def test_webhook_and_reconciler_at_once_apply_one_transition(
    deps: Deps, fake_runpod: FakeRunpod
) -> None:
    upload_id, asset = await submitted(deps, fake_runpod)
    rp = asset["runpod_job_id"]
    output = await worker_output(deps.storage, asset["id"], asset["job_id"])
    body = {"id": rp, "status": "COMPLETED", "executionTime": 1000, "output": output}
    fake_runpod.statuses[rp] = body
    outcomes = await asyncio.gather(
        apply_report(deps, asset["job_id"], body, source="webhook"),
        apply_report(deps, asset["job_id"], body, source="webhook"),
        reconcile_once(deps),
    )
    assert sorted(o for o in outcomes[:2] if isinstance(o, str)).count("ready") <= 1
    ready = await asset_of(deps.pool, upload_id)
    assert ready["state"] == "ready" and ready["gpu_seconds"] == 1.0  # counted once
    assert len(await events(deps.pool, "media.asset.ready.v1")) == 1


async def test_status_429_defers_the_next_read_by_retry_after(deps: Deps, fake_runpod: FakeRunpod) -> None:
    upload_id, _ = await submitted(deps, fake_runpod)
    fake_runpod.status_refusals.append((429, "30"))
    await reconcile_once(deps)
    deferred = await asset_of(deps.pool, upload_id)
    assert deferred["state"] == "submitted"
    wait = (deferred["check_at"] - await deps.pool.fetchval("SELECT now()")).total_seconds()
    assert 25 < wait <= 30
    assert await reconcile_once(deps) == 0  # not due before then
