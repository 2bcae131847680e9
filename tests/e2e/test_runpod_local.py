"""The local RunPod endpoint end to end: a real server process, the runpod SDK's own worker loop in
real worker processes (tests/e2e/workers/echo_worker.py), and webhooks into a real HTTP receiver."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

# The fixtures' types live in tests/e2e/conftest.py (RunpodLocal, RunpodWebhookReceiver).
RunpodLocal = Any
RunpodWebhookReceiver = Any
STATUS_KEYS = {"id", "status", "delayTime", "executionTime", "workerId"}


def test_a_job_runs_on_an_sdk_worker_and_its_webhook_arrives_once_as_the_cloud_sends_it(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    job_input = {"sleep": 0.6, "video": "s3://bucket/key.mp4"}
    job_id = runpod_local.run("echo", job_input, webhook=url)

    running = runpod_local.wait_for("echo", job_id, "IN_PROGRESS")
    assert running["workerId"].startswith("local-echo-")
    done = runpod_local.wait_for("echo", job_id, "COMPLETED")
    assert set(done) == STATUS_KEYS | {"output"}
    assert done["output"] == {"echo": job_input, "worker": running["workerId"]}
    assert done["executionTime"] >= 500

    [webhook] = runpod_webhook_receiver.wait_for(hook)
    # the cloud's webhook: the /status body, with the input and the webhook URL echoed
    assert webhook.body == {**done, "input": job_input, "webhook": url}
    time.sleep(0.7)  # longer than the retry interval: a second copy would be here by now
    assert len(runpod_webhook_receiver.received(hook)) == 1


def test_runsync_waits_for_the_result(runpod_local: RunpodLocal) -> None:
    response = runpod_local.client.post("/v2/echo/runsync", json={"input": {"n": 7}})
    body = response.json()
    assert response.status_code == 200 and body["status"] == "COMPLETED"
    assert body["id"].startswith("sync-") and body["output"]["echo"] == {"n": 7}


def test_runsync_answers_in_progress_when_the_job_outlasts_the_wait(runpod_local: RunpodLocal) -> None:
    response = runpod_local.client.post("/v2/echo/runsync?wait=300", json={"input": {"sleep": 1.5}})
    body = response.json()
    assert body["status"] in ("IN_QUEUE", "IN_PROGRESS") and "output" not in body
    assert runpod_local.wait_for("echo", body["id"], "COMPLETED")["output"]["echo"] == {"sleep": 1.5}


def test_a_handler_error_or_exception_fails_the_job_with_its_error(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    returned = runpod_local.run("echo", {"error": "unsupported codec"}, webhook=url)
    raised = runpod_local.run("echo", {"raise": "decoder crashed"})

    failed = runpod_local.wait_for("echo", returned, "FAILED")
    assert failed["error"] == "unsupported codec" and "output" not in failed
    assert "decoder crashed" in runpod_local.wait_for("echo", raised, "FAILED")["error"]
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "FAILED" and webhook.body["error"] == "unsupported codec"


def test_cancelling_a_queued_job(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("idle", {"n": 1}, webhook=url)
    assert runpod_local.status("idle", job_id).json() == {"id": job_id, "status": "IN_QUEUE"}

    response = runpod_local.client.post(f"/v2/idle/cancel/{job_id}")
    assert response.status_code == 200 and response.json() == {"id": job_id, "status": "CANCELLED"}
    assert runpod_local.status("idle", job_id).json()["status"] == "CANCELLED"
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "CANCELLED" and webhook.body["input"] == {"n": 1}


def test_cancelling_a_running_job_stops_it_on_the_worker(runpod_local: RunpodLocal) -> None:
    job_id = runpod_local.run("echo", {"sleep": 30})
    worker = runpod_local.wait_for("echo", job_id, "IN_PROGRESS")["workerId"]

    response = runpod_local.client.post(f"/v2/echo/cancel/{job_id}")
    assert response.json() == {"id": job_id, "status": "CANCELLED"}
    # The SDK's stop channel (job-stop) cancels the handler's task; the worker says so in its log.
    deadline = time.monotonic() + 10
    while f'"requestId": "{job_id}", "message": "Job stopped."' not in runpod_local.log_text():
        assert time.monotonic() < deadline, "the worker never stopped the cancelled job"
        time.sleep(0.05)
    seen = runpod_local.client.get("/_admin/workers").json()["seen"]
    assert next(w for w in seen if w["workerId"] == worker)["jobs"] == []
    assert runpod_local.status("echo", job_id).json()["status"] == "CANCELLED"


def test_a_failed_job_retries_and_then_completes(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver, tmp_path: Path
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    retried_before = runpod_local.health("echo")["jobs"]["retried"]
    job_id = runpod_local.run("echo", {"fail_once": str(tmp_path / "marker")}, webhook=url)
    assert runpod_local.wait_for("echo", job_id, "FAILED")["error"]

    response = runpod_local.client.post(f"/v2/echo/retry/{job_id}")
    assert response.status_code == 200 and response.json() == {"id": job_id, "status": "IN_QUEUE"}
    done = runpod_local.wait_for("echo", job_id, "COMPLETED")
    assert "error" not in done and done["output"]["echo"]["fail_once"]
    assert [w.body["status"] for w in runpod_webhook_receiver.wait_for(hook, 2)] == ["FAILED", "COMPLETED"]
    assert runpod_local.health("echo")["jobs"]["retried"] == retried_before + 1


def test_retry_is_refused_for_a_completed_job(runpod_local: RunpodLocal) -> None:
    job_id = runpod_local.run("echo", {"n": 1})
    runpod_local.wait_for("echo", job_id, "COMPLETED")
    response = runpod_local.client.post(f"/v2/echo/retry/{job_id}")
    assert response.status_code == 400
    assert "only FAILED or TIMED_OUT" in response.json()["error"]


def test_a_job_past_its_execution_timeout_times_out_and_can_be_retried(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"sleep": 20}, webhook=url, policy={"executionTimeout": 800})
    timed_out = runpod_local.wait_for("echo", job_id, "TIMED_OUT", timeout=10)
    assert 800 <= timed_out["executionTime"] < 3000 and timed_out["error"]
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "TIMED_OUT"

    assert runpod_local.client.post(f"/v2/echo/retry/{job_id}").json()["status"] == "IN_QUEUE"
    runpod_local.wait_for("echo", job_id, "TIMED_OUT", timeout=10)


def test_a_queued_job_past_its_ttl_is_deleted(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("idle", {"n": 1}, policy={"ttl": 300}, webhook=url)
    deadline = time.monotonic() + 5
    while runpod_local.status("idle", job_id).status_code == 200:
        assert time.monotonic() < deadline, "the job outlived its ttl"
        time.sleep(0.03)
    assert runpod_local.status("idle", job_id).status_code == 404
    time.sleep(0.3)
    assert runpod_webhook_receiver.received(hook) == []  # deleted, not TIMED_OUT: no webhook


def test_purge_queue_removes_the_queued_jobs(runpod_local: RunpodLocal) -> None:
    runpod_local.client.post("/v2/idle/purge-queue")
    job_ids = [runpod_local.run("idle", {"n": n}) for n in range(3)]
    assert runpod_local.health("idle")["jobs"]["inQueue"] == 3

    response = runpod_local.client.post("/v2/idle/purge-queue")
    assert response.status_code == 200 and response.json() == {"removed": 3, "status": "completed"}
    assert runpod_local.health("idle")["jobs"]["inQueue"] == 0
    assert all(runpod_local.status("idle", j).status_code == 404 for j in job_ids)


def test_health_counts_jobs_and_workers(runpod_local: RunpodLocal) -> None:
    before = runpod_local.health("echo")
    assert before["workers"]["idle"] + before["workers"]["running"] == 2
    job_id = runpod_local.run("echo", {"sleep": 1})
    runpod_local.wait_for("echo", job_id, "IN_PROGRESS")
    during = runpod_local.health("echo")
    assert during["jobs"]["inProgress"] >= 1 and during["workers"]["running"] >= 1
    runpod_local.wait_for("echo", job_id, "COMPLETED")
    assert runpod_local.health("echo")["jobs"]["completed"] == before["jobs"]["completed"] + 1
    assert runpod_local.health("idle")["workers"] == {
        "idle": 0,
        "initializing": 0,
        "ready": 0,
        "running": 0,
        "throttled": 0,
        "unhealthy": 0,
    }


def test_the_sdk_workers_ping(runpod_local: RunpodLocal) -> None:
    deadline = time.monotonic() + 10
    while True:
        seen = runpod_local.client.get("/_admin/workers").json()["seen"]
        pings = {w["workerId"]: w["pings"] for w in seen if w["endpointId"] == "echo"}
        if len(pings) == 2 and all(pings.values()):
            break
        assert time.monotonic() < deadline, f"pings: {pings}"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "wrong"}],
    ids=["none", "bearer", "bare"],
)
def test_a_missing_or_wrong_key_is_401(runpod_local: RunpodLocal, headers: dict[str, str]) -> None:
    response = httpx.post(f"{runpod_local.base_url}/v2/echo/run", json={"input": {}}, headers=headers)
    assert response.status_code == 401


def test_the_key_is_accepted_bare_as_well_as_bearer(runpod_local: RunpodLocal) -> None:
    key = runpod_local.client.headers["Authorization"].removeprefix("Bearer ")
    response = httpx.get(f"{runpod_local.base_url}/v2/echo/health", headers={"Authorization": key})
    assert response.status_code == 200


def test_an_unknown_job_is_404(runpod_local: RunpodLocal) -> None:
    assert runpod_local.status("echo", "no-such-job").status_code == 404
    assert runpod_local.client.post("/v2/echo/cancel/no-such-job").status_code == 404


def test_results_are_forgotten_after_the_retention_period(
    runpod_local_factory: Callable[..., RunpodLocal],
) -> None:
    server = runpod_local_factory(endpoints="idle", workers=0, retention_s=1, sweep_interval_s=0.05)
    job_id = server.run("idle", {"n": 1})
    server.client.post(f"/v2/idle/cancel/{job_id}")
    assert server.status("idle", job_id).status_code == 200
    time.sleep(1.2)
    assert server.status("idle", job_id).status_code == 404


# ---- webhook retries ----


def test_a_refused_webhook_is_retried_after_the_interval(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url(script=[500, 200])
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    first, second = runpod_webhook_receiver.wait_for(hook, 2)
    assert (first.status_code, second.status_code) == (500, 200)
    assert first.body == second.body and second.body["status"] == "COMPLETED"
    assert second.at - first.at >= 0.45
    attempts = runpod_local.webhook_attempts(job_id)
    assert [(a["attempt"], a["outcome"], a["http_status"]) for a in attempts] == [
        (1, "rejected", 500),
        (2, "delivered", 200),
    ]


def test_a_webhook_is_given_up_after_three_attempts(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url(script=[503, 503, 503, 503])
    runpod_local.run("echo", {"n": 1}, webhook=url)
    runpod_webhook_receiver.wait_for(hook, 3)
    time.sleep(0.8)
    assert len(runpod_webhook_receiver.received(hook)) == 3


# ---- fault switches ----


def test_fault_drop_webhook(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, dropWebhook=True)
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    assert runpod_local.wait_for("echo", job_id, "COMPLETED")["output"]
    time.sleep(0.8)
    assert runpod_webhook_receiver.received(hook) == []
    assert [a["outcome"] for a in runpod_local.webhook_attempts(job_id)] == ["dropped"]


def test_fault_drop_webhook_pinned_to_one_running_job(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    dropped_hook, dropped_url = runpod_webhook_receiver.new_url()
    kept_hook, kept_url = runpod_webhook_receiver.new_url()
    dropped = runpod_local.run("echo", {"sleep": 0.5}, webhook=dropped_url)
    kept = runpod_local.run("echo", {"sleep": 0.5}, webhook=kept_url)
    runpod_faults(jobId=dropped, dropWebhook=True)
    runpod_local.wait_for("echo", dropped, "COMPLETED")
    runpod_local.wait_for("echo", kept, "COMPLETED")
    runpod_webhook_receiver.wait_for(kept_hook)
    assert runpod_webhook_receiver.received(dropped_hook) == []


def test_fault_duplicate_webhook(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, duplicateWebhook=True)
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    first, second = runpod_webhook_receiver.wait_for(hook, 2)
    assert first.body == second.body and first.body["id"] == job_id and first.body["status"] == "COMPLETED"
    time.sleep(0.7)
    assert len(runpod_webhook_receiver.received(hook)) == 2


def test_fault_delay_webhook(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, delayWebhookSeconds=1.5)
    hook, url = runpod_webhook_receiver.new_url()
    submitted = time.monotonic()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    done = runpod_local.wait_for("echo", job_id, "COMPLETED")
    assert runpod_webhook_receiver.received(hook) == []  # the status says COMPLETED, no webhook yet
    [webhook] = runpod_webhook_receiver.wait_for(hook, timeout=5)
    # CLOCK_MONOTONIC is one clock for all processes here: the job ended at this time plus the
    # latency of the /run request (milliseconds), so the webhook left 1.5 s after the end
    ended_by = submitted + (done["delayTime"] + done["executionTime"]) / 1000
    assert webhook.at - ended_by >= 1.45
    assert webhook.body == {**done, "input": {"n": 1}, "webhook": url}


def test_fault_complete_without_output(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, completeWithoutOutput=True)
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    done = runpod_local.wait_for("echo", job_id, "COMPLETED")
    assert "output" not in done and "error" not in done
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "COMPLETED" and "output" not in webhook.body


def test_fault_forget_job(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, forgetJob=True)
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "COMPLETED" and webhook.body["output"]
    # the webhook said COMPLETED; /status has already forgotten it, 30 minutes early
    assert runpod_local.status("echo", job_id).status_code == 404


def test_fault_rules_from_the_environment(
    runpod_local_factory: Callable[..., RunpodLocal], runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    server = runpod_local_factory(
        endpoints="idle", workers=0, faults='[{"duplicateWebhook": true}]', webhook_interval_s=0.1
    )
    hook, url = runpod_webhook_receiver.new_url()
    job_id = server.run("idle", {"n": 1}, webhook=url)
    server.client.post(f"/v2/idle/cancel/{job_id}")
    assert [w.body["status"] for w in runpod_webhook_receiver.wait_for(hook, 2)] == ["CANCELLED", "CANCELLED"]


def test_a_worker_process_that_dies_is_replaced(
    runpod_local_factory: Callable[..., RunpodLocal], runpod_worker_python: Path
) -> None:
    server = runpod_local_factory(
        endpoints="echo",
        workers=1,
        worker_command=f"{runpod_worker_python} tests/e2e/workers/echo_worker.py",
        worker_poll_wait_s=1,
    )
    [worker] = server.client.get("/_admin/workers").json()["managed"]
    os.killpg(worker["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        [now] = server.client.get("/_admin/workers").json()["managed"]
        if now["restarts"] == 1 and now["running"] and now["pid"] != worker["pid"]:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    job_id = server.run("echo", {"n": 1})
    assert server.wait_for("echo", job_id, "COMPLETED", timeout=30)["workerId"] == worker["workerId"]
