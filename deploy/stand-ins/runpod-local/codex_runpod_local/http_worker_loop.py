"""The routes runpod.serverless's own worker loop polls (runpod 1.x: serverless/modules/rp_job.py,
rp_http.py, rp_ping.py), so that an SDK worker runs unchanged against this server; see workers.py."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from codex_runpod_local.http import EndpointsDep, PathParam, api_key_guard
from codex_runpod_local.runtime import InvalidRequest


class WorkerController(Controller):
    path = "/v2/{endpoint_id:str}"
    guards = [api_key_guard]
    tags = ["worker loop"]
    include_in_schema = False

    @get("/job-take/{worker_id:str}", operation_id="takeJob")
    async def take(
        self, endpoint_id: PathParam, worker_id: PathParam, endpoints: EndpointsDep
    ) -> Response[Any]:
        # 200 with one job object, or 204: the SDK reads 204 as "no job" and polls again at once.
        jobs = await endpoints.take(endpoint_id, worker_id, 1)
        if not jobs:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        return Response(jobs[0].worker_payload())

    @get("/job-take-batch/{worker_id:str}", operation_id="takeJobBatch")
    async def take_batch(
        self,
        endpoint_id: PathParam,
        worker_id: PathParam,
        endpoints: EndpointsDep,
        batch_size: Annotated[int, QueryParameter(name="batch_size", ge=1)] = 1,
    ) -> Response[Any]:
        jobs = await endpoints.take(endpoint_id, worker_id, batch_size)
        if not jobs:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        return Response([job.worker_payload() for job in jobs])

    @get("/job-stop/{worker_id:str}", operation_id="stopSignals")
    async def stop(
        self, endpoint_id: PathParam, worker_id: PathParam, endpoints: EndpointsDep
    ) -> Response[Any]:
        # Long-poll: the SDK (>= 1.9) cancels just the named in-progress jobs (cancel, timeout).
        job_ids = await endpoints.stop_signals(endpoint_id, worker_id)
        if not job_ids:
            return Response(None, status_code=HTTP_204_NO_CONTENT)
        return Response({"jobsToStop": job_ids})

    @post("/job-done/{worker_id:str}/{job_id:str}", status_code=HTTP_200_OK, operation_id="jobDone")
    async def done(
        self,
        endpoint_id: PathParam,
        worker_id: PathParam,
        job_id: PathParam,
        request: Request[Any, Any, Any],
        endpoints: EndpointsDep,
    ) -> dict[str, Any]:
        # The SDK posts a JSON document labelled application/x-www-form-urlencoded; read the raw body.
        result = _json_body(await request.body())
        return {"accepted": endpoints.finish(endpoint_id, worker_id, job_id, result)}

    @post("/job-stream/{worker_id:str}/{job_id:str}", status_code=HTTP_200_OK, operation_id="jobStream")
    async def stream(
        self,
        endpoint_id: PathParam,
        worker_id: PathParam,
        job_id: PathParam,
        request: Request[Any, Any, Any],
        endpoints: EndpointsDep,
    ) -> dict[str, Any]:
        partial = _json_body(await request.body())
        return {"accepted": endpoints.add_stream(endpoint_id, worker_id, job_id, partial.get("output"))}

    @get("/ping/{worker_id:str}", operation_id="workerPing")
    async def ping(
        self,
        endpoint_id: PathParam,
        worker_id: PathParam,
        endpoints: EndpointsDep,
        job_id: Annotated[str | None, QueryParameter(name="job_id")] = None,
    ) -> dict[str, Any]:
        # The SDK's heartbeat lists the jobs the worker runs, comma-separated (absent when none).
        endpoints.ping(endpoint_id, worker_id, {j for j in (job_id or "").split(",") if j})
        return {}


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(raw) if raw else {}
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRequest("body must be a JSON object")
    return value
