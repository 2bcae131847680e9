"""Where the local RunPod endpoint must be as unkind as the cloud, end to end with the runpod SDK's own
worker loop (tests/e2e/workers/echo_worker.py): ttl over a job's whole life, a non-string error, 429/5xx
on the cloud routes, a job executed twice, a slow or non-200 webhook receiver, stale stop signals, and
workers that do not inherit the developer's RunPod credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RunpodLocal = Any
RunpodWebhookReceiver = Any


def wait_for_404(server: RunpodLocal, endpoint: str, job_id: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while server.status(endpoint, job_id).status_code == 200:
        assert time.monotonic() < deadline, f"job {job_id} is still there"
        time.sleep(0.03)


def attempts(server: RunpodLocal, job_id: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The webhook attempts the endpoint logged for a job, once there are ``count`` of them (the
    receiver records a POST before it answers, the endpoint logs an attempt after the answer)."""
    deadline = time.monotonic() + timeout
    while len(logged := server.webhook_attempts(job_id)) < count:
        assert time.monotonic() < deadline, logged
        time.sleep(0.03)
    return logged


def wait_for_log(server: RunpodLocal, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log_text():
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.05)


# ---- 9: ttl covers the whole life; executionTimeout stops the worker ----


def test_ttl_deletes_a_running_job_and_stops_its_worker(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"sleep": 30}, webhook=url, policy={"ttl": 1500})
    runpod_local.wait_for("echo", job_id, "IN_PROGRESS")
    wait_for_404(runpod_local, "echo", job_id)  # not TIMED_OUT: gone, as the cloud deletes it
    wait_for_log(runpod_local, f'"requestId": "{job_id}", "message": "Job stopped."')
    time.sleep(0.3)
    assert runpod_webhook_receiver.received(hook) == []


def test_ttl_cuts_a_finished_jobs_retention_short(runpod_local: RunpodLocal) -> None:
    job_id = runpod_local.run("echo", {"n": 1}, policy={"ttl": 1200})
    assert runpod_local.wait_for("echo", job_id, "COMPLETED")["output"]
    wait_for_404(runpod_local, "echo", job_id)  # long before the 30 minutes of retention


# ---- 10: what the cloud does with a non-string error ----


def test_a_non_string_error_ends_completed_without_output(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url()
    # The SDK sends the handler's {"error": {...}} as it is; the cloud then reports COMPLETED with no
    # output and no error (runpod-python issue 299). A dispatcher must not read that as a success.
    job_id = runpod_local.run("echo", {"error": {"code": "NOT_A_VIDEO", "retryable": False}}, webhook=url)
    done = runpod_local.wait_for("echo", job_id, "COMPLETED", "FAILED")
    assert done["status"] == "COMPLETED" and "output" not in done and "error" not in done
    [webhook] = runpod_webhook_receiver.wait_for(hook)
    assert webhook.body["status"] == "COMPLETED" and "output" not in webhook.body


# ---- 11: faults the cloud has ----


def test_429_and_5xx_with_retry_after_on_run_status_and_cancel(
    runpod_local: RunpodLocal, runpod_faults: Callable[..., Any]
) -> None:
    client = runpod_local.client
    runpod_faults(endpointId="echo", failStatus=429, failRoutes=["run"], retryAfterSeconds=2, times=1)
    limited = client.post("/v2/echo/run", json={"input": {"n": 1}})
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    job_id = runpod_local.run("echo", {"sleep": 5})  # the next one goes through

    runpod_faults(jobId=job_id, failStatus=503, failRoutes=["status", "cancel"], retryAfterSeconds=1, times=2)
    assert client.get(f"/v2/echo/status/{job_id}").status_code == 503
    refused = client.post(f"/v2/echo/cancel/{job_id}")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert client.get(f"/v2/echo/status/{job_id}").json()["status"] in ("IN_QUEUE", "IN_PROGRESS")
    assert client.post(f"/v2/echo/cancel/{job_id}").json() == {"id": job_id, "status": "CANCELLED"}


def test_a_run_whose_answer_is_lost_still_runs(
    runpod_local: RunpodLocal, runpod_faults: Callable[..., Any]
) -> None:
    runpod_faults(endpointId="echo", failStatus=502, failRoutes=["run"], failAfterSubmit=True, times=1)
    completed_before = runpod_local.health("echo")["jobs"]["completed"]
    lost = runpod_local.client.post("/v2/echo/run", json={"input": {"n": 1}})
    assert lost.status_code == 502
    deadline = time.monotonic() + 10
    while runpod_local.health("echo")["jobs"]["completed"] == completed_before:
        assert time.monotonic() < deadline, "the submitted job never ran"
        time.sleep(0.05)


def test_a_job_executed_twice_sends_two_webhooks_for_one_id(
    runpod_local: RunpodLocal,
    runpod_webhook_receiver: RunpodWebhookReceiver,
    runpod_faults: Callable[..., Any],
) -> None:
    runpod_faults(endpointId="echo", times=1, executeTwice=True)
    hook, url = runpod_webhook_receiver.new_url()
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    first, second = runpod_webhook_receiver.wait_for(hook, 2)
    assert first.body["id"] == second.body["id"] == job_id
    assert first.body["status"] == second.body["status"] == "COMPLETED"
    assert first.body["output"]["echo"] == second.body["output"]["echo"] == {"n": 1}
    assert runpod_local.wait_for("echo", job_id, "COMPLETED")["output"]
    time.sleep(0.7)
    assert len(runpod_webhook_receiver.received(hook)) == 2


def test_a_slow_webhook_receiver_has_failed_that_attempt(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    # The session's endpoint gives a receiver 0.5 s (2 s by default); this one answers after 0.8 s.
    hook, url = runpod_webhook_receiver.new_url(delays=[0.8])
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    first, second = runpod_webhook_receiver.wait_for(hook, 2)
    assert first.body == second.body
    logged = attempts(runpod_local, job_id, 2)
    assert [(a["attempt"], a["outcome"]) for a in logged] == [(1, "error"), (2, "delivered")]
    assert "Timeout" in logged[0]["error"]


def test_only_a_200_acknowledges_a_webhook(
    runpod_local: RunpodLocal, runpod_webhook_receiver: RunpodWebhookReceiver
) -> None:
    hook, url = runpod_webhook_receiver.new_url(script=[204, 200])
    job_id = runpod_local.run("echo", {"n": 1}, webhook=url)
    runpod_webhook_receiver.wait_for(hook, 2)
    logged = attempts(runpod_local, job_id, 2)
    assert [(a["outcome"], a["http_status"]) for a in logged] == [("rejected", 204), ("delivered", 200)]


# ---- 12: shape details ----


def test_a_job_retried_onto_the_same_worker_is_not_stopped_by_the_old_signal(
    runpod_local_factory: Callable[..., RunpodLocal], runpod_worker_python: Path, tmp_path: Path
) -> None:
    server = runpod_local_factory(
        endpoints="echo",
        workers=1,  # the retried job can only go back to the worker that was told to stop it
        worker_command=f"{runpod_worker_python} tests/e2e/workers/echo_worker.py",
        worker_poll_wait_s=1,
        worker_ping_interval_ms=1000,
        sweep_interval_s=0.05,
        min_execution_timeout_ms=100,
    )
    # The first run sleeps past its 3 s; the retried one takes 1.5 s, longer than the 1 s after which
    # a pending stop signal is sent again.
    job_id = server.run(
        "echo", {"sleep_once": [str(tmp_path / "slept"), 20, 1.5]}, policy={"executionTimeout": 3000}
    )
    server.wait_for("echo", job_id, "TIMED_OUT", timeout=30)
    assert server.client.post(f"/v2/echo/retry/{job_id}").json()["status"] == "IN_QUEUE"
    # Before: the timeout's stop signal was re-sent (while the worker's heartbeat listed the id, up to
    # 30 s) and stopped the retried run, which then timed out as well.
    done = server.wait_for("echo", job_id, "COMPLETED", "TIMED_OUT", "CANCELLED", timeout=15)
    assert done["status"] == "COMPLETED", done


def test_workers_do_not_inherit_the_developers_runpod_credentials(runpod_local: RunpodLocal) -> None:
    # The session's server runs with a HOME holding ~/.runpod/config.toml and with RUNPOD_API_KEY set
    # (conftest.py); `import runpod` would load that key into a worker that inherited them.
    job_id = runpod_local.run("echo", {"whoami": True})
    output = runpod_local.wait_for("echo", job_id, "COMPLETED")["output"]
    assert output["sdk_api_key"] is None
    assert "developer-home" not in output["home"] and "runpod-local-workers-" in output["home"]


def test_health_reports_the_clouds_worker_fields(runpod_local: RunpodLocal) -> None:
    workers = runpod_local.health("echo")["workers"]
    assert set(workers) == {"idle", "initializing", "ready", "running", "throttled", "unhealthy"}
    assert workers["ready"] + workers["running"] == 2


def test_run_refuses_a_body_over_10_mb(runpod_local: RunpodLocal) -> None:
    big = {"input": {"blob": "x" * (10 * 1024 * 1024 + 1)}}
    response = httpx.post(
        f"{runpod_local.base_url}/v2/idle/run", json=big, headers=runpod_local.client.headers, timeout=30
    )
    assert response.status_code == 413
