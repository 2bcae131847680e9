"""The local RunPod endpoint's HTTP surface in memory (no worker processes, no network): the routes
are driven the way the cloud's clients and the SDK's worker loop drive them."""

from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from codex_runpod_local.app import create_app
from codex_runpod_local.settings import Settings

KEY = "unit-key"
BEARER = {"Authorization": f"Bearer {KEY}"}
WORKER = {"Authorization": KEY}  # the SDK sends RUNPOD_AI_API_KEY bare
FORM = {**WORKER, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:
    settings = Settings(
        api_key=KEY,
        endpoints=("ep",),
        workers=0,
        worker_poll_wait_s=0.2,
        sweep_interval_s=0.05,
        min_execution_timeout_ms=10,
        min_ttl_ms=10,
        runsync_wait_s=0.3,
    )
    async with AsyncTestClient(create_app(settings)) as c:
        yield c


async def run(client: AsyncTestClient, **body: object) -> str:
    response = await client.post("/v2/ep/run", json={"input": {"n": 1}, **body}, headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "IN_QUEUE"
    return str(response.json()["id"])


async def take(client: AsyncTestClient, worker: str = "w1") -> dict[str, object] | None:
    response = await client.get(f"/v2/ep/job-take/{worker}?gpu=local&job_in_progress=0", headers=WORKER)
    if response.status_code == 204:
        return None
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    return dict(response.json())


async def done(client: AsyncTestClient, job_id: str, result: dict[str, object], worker: str = "w1") -> None:
    response = await client.post(
        f"/v2/ep/job-done/{worker}/{job_id}?gpu=local&isStream=false",
        content=msgspec.json.encode(result),
        headers=FORM,
    )
    assert response.status_code == 200, response.text


async def status(client: AsyncTestClient, job_id: str) -> dict[str, object]:
    response = await client.get(f"/v2/ep/status/{job_id}", headers=BEARER)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "nope"}])
async def test_every_route_needs_the_key(client: AsyncTestClient, headers: dict[str, str]) -> None:
    for method, path in [
        ("POST", "/v2/ep/run"),
        ("GET", "/v2/ep/status/x"),
        ("GET", "/v2/ep/health"),
        ("GET", "/v2/ep/job-take/w1?gpu=local"),
        ("GET", "/_admin/faults"),
    ]:
        response = await client.request(method, path, headers=headers, json={"input": {}})
        assert response.status_code == 401, path
        assert response.json() == {"error": "missing or invalid API key"}


async def test_bearer_and_bare_keys_are_both_accepted(client: AsyncTestClient) -> None:
    assert (await client.get("/v2/ep/health", headers=BEARER)).status_code == 200
    assert (await client.get("/v2/ep/health", headers=WORKER)).status_code == 200
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_the_worker_loop_routes_carry_a_job_to_completed(client: AsyncTestClient) -> None:
    job_id = await run(client)
    job = await take(client)
    assert job == {"id": job_id, "input": {"n": 1}}
    assert (await status(client, job_id))["status"] == "IN_PROGRESS"
    await done(client, job_id, {"output": {"echo": 1}})
    body = await status(client, job_id)
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": 1} and body["workerId"] == "w1"
    assert {"delayTime", "executionTime"} <= body.keys()


async def test_a_progress_update_posted_to_job_done_keeps_the_job_running(client: AsyncTestClient) -> None:
    # what runpod.serverless.progress_update sends, to the job-done URL
    job_id = await run(client)
    await take(client)
    await done(client, job_id, {"status": "IN_PROGRESS", "output": {"percent": 50}})
    body = await status(client, job_id)
    assert body["status"] == "IN_PROGRESS" and body["output"] == {"percent": 50}
    await done(client, job_id, {"output": {"final": True}})
    assert (await status(client, job_id))["output"] == {"final": True}


async def test_job_take_answers_204_when_the_queue_is_empty(client: AsyncTestClient) -> None:
    assert await take(client) is None


async def test_job_take_batch_hands_out_a_list(client: AsyncTestClient) -> None:
    ids = [await run(client) for _ in range(3)]
    response = await client.get(
        "/v2/ep/job-take-batch/w1?gpu=local&job_in_progress=0&batch_size=2", headers=WORKER
    )
    assert [j["id"] for j in response.json()] == ids[:2]


async def test_an_error_result_fails_the_job(client: AsyncTestClient) -> None:
    job_id = await run(client)
    await take(client)
    await done(client, job_id, {"error": "bad input"})
    assert (await status(client, job_id))["error"] == "bad input"


async def test_cancel_of_a_running_job_reaches_the_worker_stop_channel(client: AsyncTestClient) -> None:
    job_id = await run(client)
    await take(client)
    response = await client.post(f"/v2/ep/cancel/{job_id}", headers=BEARER)
    assert response.json() == {"id": job_id, "status": "CANCELLED"}
    stop = await client.get("/v2/ep/job-stop/w1?gpu=local", headers=WORKER)
    assert stop.status_code == 200 and stop.json() == {"jobsToStop": [job_id]}
    assert (await client.get("/v2/ep/job-stop/w1?gpu=local", headers=WORKER)).status_code == 204
    await done(client, job_id, {"output": "late"})  # a late result is accepted and ignored
    assert "output" not in await status(client, job_id)


async def test_retry_is_refused_for_a_completed_job_with_a_reason(client: AsyncTestClient) -> None:
    job_id = await run(client)
    await take(client)
    await done(client, job_id, {"output": 1})
    response = await client.post(f"/v2/ep/retry/{job_id}", headers=BEARER)
    assert response.status_code == 400
    assert "COMPLETED" in response.json()["error"]


async def test_unknown_jobs_and_endpoints_are_404(client: AsyncTestClient) -> None:
    response = await client.get("/v2/ep/status/nope", headers=BEARER)
    assert response.status_code == 404 and response.json() == {"error": "job nope not found"}
    assert (await client.post("/v2/ep/cancel/nope", headers=BEARER)).status_code == 404
    assert (await client.post("/v2/other/run", json={"input": {}}, headers=BEARER)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"input": "not an object"},
        {"input": {}, "policy": {"executionTimeout": 5}},
        {"input": {}, "policy": {"ttl": 1}},
    ],
)
async def test_bad_requests_are_400(client: AsyncTestClient, body: dict[str, object]) -> None:
    assert (await client.post("/v2/ep/run", json=body, headers=BEARER)).status_code == 400


async def test_runsync_answers_the_queued_status_when_nothing_ran_in_time(client: AsyncTestClient) -> None:
    response = await client.post("/v2/ep/runsync", json={"input": {}}, headers=BEARER)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "IN_QUEUE" and body["id"].startswith("sync-")


async def test_purge_queue_and_health(client: AsyncTestClient) -> None:
    await run(client)
    await run(client)
    running = await run(client)
    await client.get("/v2/ep/job-take/w1?gpu=local", headers=WORKER)  # takes the first
    await client.get("/v2/ep/ping/w2?gpu=local&runpod_version=1.12.0", headers=WORKER)
    health = (await client.get("/v2/ep/health", headers=BEARER)).json()
    assert health == {
        "jobs": {"completed": 0, "failed": 0, "inProgress": 1, "inQueue": 2, "retried": 0},
        # the cloud's worker fields
        "workers": {"idle": 1, "initializing": 0, "ready": 1, "running": 1, "throttled": 0, "unhealthy": 0},
    }
    purged = (await client.post("/v2/ep/purge-queue", headers=BEARER)).json()
    assert purged == {"removed": 2, "status": "completed"}
    assert (await client.get(f"/v2/ep/status/{running}", headers=BEARER)).status_code == 404
    workers = (await client.get("/_admin/workers", headers=BEARER)).json()
    assert {w["workerId"]: w["pings"] for w in workers["seen"]} == {"w1": 0, "w2": 1}


async def test_fault_rules_are_added_listed_and_removed(client: AsyncTestClient) -> None:
    added = await client.post("/_admin/faults", json={"dropWebhook": True, "times": 1}, headers=BEARER)
    assert added.status_code == 201
    rule = added.json()
    assert rule["dropWebhook"] is True and rule["remaining"] == 1 and rule["id"]
    assert [r["id"] for r in (await client.get("/_admin/faults", headers=BEARER)).json()] == [rule["id"]]
    bad = await client.post("/_admin/faults", json={"dropWebhooks": True}, headers=BEARER)
    assert bad.status_code == 400
    assert (await client.delete(f"/_admin/faults/{rule['id']}", headers=BEARER)).status_code == 204
    assert (await client.delete(f"/_admin/faults/{rule['id']}", headers=BEARER)).status_code == 404
    await client.post("/_admin/faults", json={"duplicateWebhook": True}, headers=BEARER)
    assert (await client.delete("/_admin/faults", headers=BEARER)).status_code == 204
    assert (await client.get("/_admin/faults", headers=BEARER)).json() == []


async def test_complete_without_output_fault(client: AsyncTestClient) -> None:
    await client.post("/_admin/faults", json={"completeWithoutOutput": True, "times": 1}, headers=BEARER)
    job_id = await run(client)
    await take(client)
    await done(client, job_id, {"output": {"big": "result"}})
    body = await status(client, job_id)
    assert body["status"] == "COMPLETED" and "output" not in body


async def test_forget_job_fault_answers_404_long_before_retention(client: AsyncTestClient) -> None:
    job_id = await run(client)
    await client.post("/_admin/faults", json={"jobId": job_id, "forgetJob": True}, headers=BEARER)
    await take(client)
    await done(client, job_id, {"output": 1})
    assert (await client.get(f"/v2/ep/status/{job_id}", headers=BEARER)).status_code == 404


async def test_the_openapi_document_names_every_cloud_operation(client: AsyncTestClient) -> None:
    document = (await client.get("/docs/openapi.json")).json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {
        "runJob",
        "runJobSync",
        "getJobStatus",
        "cancelJob",
        "retryJob",
        "getEndpointHealth",
        "purgeQueue",
    } <= (operations)


@pytest.mark.parametrize(("route", "status"), [("run", 429), ("status", 503), ("cancel", 500)])
async def test_a_route_fault_answers_its_status_with_retry_after_and_does_nothing(
    client: AsyncTestClient, route: str, status: int
) -> None:
    job_id = await run(client)
    rule = {"failStatus": status, "failRoutes": [route], "retryAfterSeconds": 1.5, "times": 1}
    assert (await client.post("/_admin/faults", json=rule, headers=BEARER)).status_code == 201
    method, path = {
        "run": ("POST", "/v2/ep/run"),
        "status": ("GET", f"/v2/ep/status/{job_id}"),
        "cancel": ("POST", f"/v2/ep/cancel/{job_id}"),
    }[route]
    failed = await client.request(method, path, json={"input": {"n": 2}}, headers=BEARER)
    assert failed.status_code == status and failed.headers["retry-after"] == "2"
    assert "fault switch" in failed.json()["error"]
    health = (await client.get("/v2/ep/health", headers=BEARER)).json()
    assert health["jobs"]["inQueue"] == 1  # no job submitted, none cancelled
    again = await client.request(method, path, json={"input": {"n": 2}}, headers=BEARER)
    assert again.status_code == 200  # times: 1


async def test_a_route_fault_can_lose_the_answer_of_a_run_that_did_submit(client: AsyncTestClient) -> None:
    rule = {"failStatus": 502, "failRoutes": ["run"], "failAfterSubmit": True, "times": 1}
    await client.post("/_admin/faults", json=rule, headers=BEARER)
    lost = await client.post("/v2/ep/run", json={"input": {"n": 1}}, headers=BEARER)
    assert lost.status_code == 502 and "retry-after" not in lost.headers
    assert (await client.get("/v2/ep/health", headers=BEARER)).json()["jobs"]["inQueue"] == 1


async def test_a_route_fault_pinned_to_one_job(client: AsyncTestClient) -> None:
    hit, spared = await run(client), await run(client)
    rule = {"jobId": hit, "failStatus": 429, "failRoutes": ["status"]}
    await client.post("/_admin/faults", json=rule, headers=BEARER)
    assert (await client.get(f"/v2/ep/status/{hit}", headers=BEARER)).status_code == 429
    assert (await client.get(f"/v2/ep/status/{spared}", headers=BEARER)).status_code == 200


@pytest.mark.parametrize(
    "rule",
    [{"failStatus": 404}, {"failRoutes": ["run"]}, {"failStatus": 429, "failRoutes": ["purge"]}],
)
async def test_bad_route_fault_rules_are_refused(client: AsyncTestClient, rule: dict[str, object]) -> None:
    assert (await client.post("/_admin/faults", json=rule, headers=BEARER)).status_code == 400


async def test_run_takes_10_mb_and_runsync_20_mb_as_the_cloud(client: AsyncTestClient) -> None:
    eleven_mb = {"input": {"blob": "x" * (11 * 1024 * 1024)}}
    assert (await client.post("/v2/ep/run", json=eleven_mb, headers=BEARER)).status_code == 413
    assert (await client.post("/v2/ep/runsync?wait=0", json=eleven_mb, headers=BEARER)).status_code == 200


async def test_execution_timeout_is_bounded_by_seven_days(client: AsyncTestClient) -> None:
    week_and_a_bit = {"input": {}, "policy": {"executionTimeout": 7 * 86_400_000 + 1}}
    assert (await client.post("/v2/ep/run", json=week_and_a_bit, headers=BEARER)).status_code == 400
    week = {"input": {}, "policy": {"executionTimeout": 7 * 86_400_000}}
    assert (await client.post("/v2/ep/run", json=week, headers=BEARER)).status_code == 200
