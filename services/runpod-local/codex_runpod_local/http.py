"""Controllers: the cloud routes (/v2/{endpoint}/...), the routes the SDK's worker loop polls, and the
admin routes of the fault switches. They only translate HTTP to calls on `Endpoints`."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Annotated, Any, TypeAlias

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from codex_runpod_local.domain import JobNotFound, JobNotRetryable
from codex_runpod_local.faults import FaultRule, FaultRuleSpec
from codex_runpod_local.runtime import EndpointNotFound, Endpoints, InvalidRequest
from codex_runpod_local.settings import Settings
from codex_runpod_local.workers import WorkerPool

EndpointsDep: TypeAlias = NamedDependency[Endpoints]
PoolDep: TypeAlias = NamedDependency[WorkerPool]
SettingsDep: TypeAlias = NamedDependency[Settings]
PathParam: TypeAlias = FromPath[str]

# ---- request and response bodies (the cloud's field names) ----


class RunPolicy(msgspec.Struct, omit_defaults=True):
    executionTimeout: int | None = None
    ttl: int | None = None
    lowPriority: bool = False


class RunRequest(msgspec.Struct, omit_defaults=True):
    input: dict[str, Any]
    webhook: str | None = None
    policy: RunPolicy | None = None
    s3Config: dict[str, Any] | None = None


class JobRef(msgspec.Struct):
    id: str
    status: str


class JobStatusBody(msgspec.Struct, omit_defaults=True):
    id: str
    status: str
    delayTime: int | msgspec.UnsetType = msgspec.UNSET
    executionTime: int | msgspec.UnsetType = msgspec.UNSET
    workerId: str | msgspec.UnsetType = msgspec.UNSET
    output: Any | msgspec.UnsetType = msgspec.UNSET
    error: str | msgspec.UnsetType = msgspec.UNSET


class JobCounts(msgspec.Struct):
    completed: int
    failed: int
    inProgress: int
    inQueue: int
    retried: int


class WorkerCounts(msgspec.Struct):
    idle: int
    running: int
    initializing: int


class EndpointHealth(msgspec.Struct):
    jobs: JobCounts
    workers: WorkerCounts


class PurgeResult(msgspec.Struct):
    removed: int
    status: str


class ErrorBody(msgspec.Struct):
    error: str


# ---- auth ----


def api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """RunPod takes `Authorization: Bearer <key>` from API clients and the bare key from its SDK's
    worker loop (RUNPOD_AI_API_KEY is sent as is); both are accepted on every route."""
    settings: Settings = connection.app.state.settings
    header = connection.headers.get("authorization", "").strip()
    token = header[7:].strip() if header[:7].lower() == "bearer " else header
    if not token or not hmac.compare_digest(token.encode(), settings.api_key.encode()):
        raise NotAuthorizedException("missing or invalid API key")


def error_handlers() -> dict[int | type[Exception], Any]:
    def answer(status: int) -> Any:
        def handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
            message = exc.detail if isinstance(exc, NotAuthorizedException) else str(exc)
            if isinstance(exc, JobNotFound):
                message = f"job {exc} not found"
            elif isinstance(exc, EndpointNotFound):
                message = f"endpoint {exc} not found"
            return Response(ErrorBody(message), status_code=status)

        return handler

    return {
        JobNotFound: answer(404),
        EndpointNotFound: answer(404),
        JobNotRetryable: answer(400),
        InvalidRequest: answer(400),
        NotAuthorizedException: answer(401),
    }


# ---- the cloud routes ----


class CloudController(Controller):
    path = "/v2/{endpoint_id:str}"
    guards = [api_key_guard]
    tags = ["cloud API"]

    @post("/run", status_code=HTTP_200_OK, operation_id="runJob")
    async def run(
        self, endpoint_id: PathParam, data: JSONBody[RunRequest], endpoints: EndpointsDep
    ) -> JobRef:
        job = endpoints.submit(endpoint_id, data.input, data.webhook, _policy(data), sync=False)
        return JobRef(job.id, job.status.value)

    @post("/runsync", status_code=HTTP_200_OK, operation_id="runJobSync")
    async def runsync(
        self,
        endpoint_id: PathParam,
        data: JSONBody[RunRequest],
        endpoints: EndpointsDep,
        settings: SettingsDep,
        wait: Annotated[
            int | None, QueryParameter(name="wait", ge=0, description="ms to wait (capped)")
        ] = None,
    ) -> JobStatusBody:
        job = endpoints.submit(endpoint_id, data.input, data.webhook, _policy(data), sync=True)
        wait_s = settings.runsync_wait_s if wait is None else wait / 1000
        await endpoints.wait_until_done(job, min(wait_s, settings.runsync_max_wait_s))
        return _status(job.status_body(endpoints.clock()))

    @get("/status/{job_id:str}", operation_id="getJobStatus")
    async def status(
        self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep
    ) -> JobStatusBody:
        return _status(endpoints.status(endpoint_id, job_id))

    @get("/stream/{job_id:str}", operation_id="getJobStream")
    async def stream(
        self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep
    ) -> dict[str, Any]:
        return endpoints.stream(endpoint_id, job_id)

    @post("/cancel/{job_id:str}", status_code=HTTP_200_OK, operation_id="cancelJob")
    async def cancel(self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep) -> JobRef:
        return msgspec.convert(endpoints.cancel(endpoint_id, job_id), JobRef)

    @post("/retry/{job_id:str}", status_code=HTTP_200_OK, operation_id="retryJob")
    async def retry(self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep) -> JobRef:
        return msgspec.convert(endpoints.retry(endpoint_id, job_id), JobRef)

    @get("/health", operation_id="getEndpointHealth")
    async def health(self, endpoint_id: PathParam, endpoints: EndpointsDep, pool: PoolDep) -> EndpointHealth:
        seen = {worker for (endpoint, worker) in endpoints.workers_seen if endpoint == endpoint_id}
        initializing = sum(
            1
            for m in pool.members
            if pool.settings.served_endpoint == endpoint_id and m.worker_id not in seen
            if m.process is not None and m.process.returncode is None
        )
        return msgspec.convert(endpoints.health(endpoint_id, initializing), EndpointHealth)

    @post("/purge-queue", status_code=HTTP_200_OK, operation_id="purgeQueue")
    async def purge_queue(self, endpoint_id: PathParam, endpoints: EndpointsDep) -> PurgeResult:
        return msgspec.convert(endpoints.purge_queue(endpoint_id), PurgeResult)


def _policy(data: JSONBody[RunRequest]) -> dict[str, Any] | None:
    return msgspec.to_builtins(data.policy) if data.policy is not None else None


def _status(body: dict[str, Any]) -> JobStatusBody:
    return msgspec.convert(body, JobStatusBody)


# ---- the worker-facing routes (what runpod.serverless's worker loop calls; see workers.py) ----


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


# ---- admin: fault switches, webhook log, workers ----


class AdminController(Controller):
    path = "/_admin"
    guards = [api_key_guard]
    tags = ["admin (local only)"]

    @post("/faults", operation_id="addFaultRule")
    async def add_fault(self, data: JSONBody[FaultRuleSpec], endpoints: EndpointsDep) -> FaultRule:
        return endpoints.faults.add(data)

    @get("/faults", operation_id="listFaultRules")
    async def list_faults(self, endpoints: EndpointsDep) -> list[FaultRule]:
        return list(endpoints.faults.rules.values())

    @delete("/faults", operation_id="clearFaultRules")
    async def clear_faults(self, endpoints: EndpointsDep) -> None:
        endpoints.faults.clear()

    @delete("/faults/{rule_id:str}", operation_id="removeFaultRule")
    async def remove_fault(self, rule_id: PathParam, endpoints: EndpointsDep) -> None:
        if not endpoints.faults.remove(rule_id):
            raise NotFoundException(f"no fault rule {rule_id}")

    @get("/webhooks", operation_id="listWebhookAttempts")
    async def webhooks(
        self, endpoints: EndpointsDep, job_id: Annotated[str | None, QueryParameter(name="jobId")] = None
    ) -> list[dict[str, Any]]:
        return [dataclasses.asdict(a) for a in endpoints.webhooks.attempts_for(job_id)]

    @get("/workers", operation_id="listWorkers")
    async def workers(self, pool: PoolDep, endpoints: EndpointsDep) -> dict[str, Any]:
        """The processes this server started, and every worker that has polled, pinged or reported."""
        return {"managed": list(pool.describe()), "seen": endpoints.seen_workers()}
