"""The cloud API of a queue-based endpoint (/v2/{endpoint}/run, /status, ...), with the cloud's field
names: what API clients such as media-dispatch call."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from codex_runpod_local.http import EndpointsDep, PathParam, PoolDep, SettingsDep, api_key_guard
from codex_runpod_local.runtime import InjectedFailure

RUN_MAX_BODY_BYTES = 10 * 1024 * 1024


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
    initializing: int
    ready: int
    running: int
    throttled: int
    unhealthy: int


class EndpointHealth(msgspec.Struct):
    jobs: JobCounts
    workers: WorkerCounts


class PurgeResult(msgspec.Struct):
    removed: int
    status: str


class CloudController(Controller):
    path = "/v2/{endpoint_id:str}"
    guards = [api_key_guard]
    tags = ["cloud API"]

    # The cloud takes 10 MB on /run, 20 MB on /runsync (the app's limit, settings.max_body_bytes).
    @post("/run", status_code=HTTP_200_OK, operation_id="runJob", request_max_body_size=RUN_MAX_BODY_BYTES)
    async def run(
        self, endpoint_id: PathParam, data: JSONBody[RunRequest], endpoints: EndpointsDep
    ) -> JobRef:
        lost = endpoints.check_route(endpoint_id, "run")
        job = endpoints.submit(endpoint_id, data.input, data.webhook, _policy(data), sync=False)
        if lost is not None:  # failAfterSubmit: the job exists, the answer is lost
            raise InjectedFailure(lost, "run")
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
        lost = endpoints.check_route(endpoint_id, "runsync")
        job = endpoints.submit(endpoint_id, data.input, data.webhook, _policy(data), sync=True)
        if lost is not None:
            raise InjectedFailure(lost, "runsync")
        wait_s = settings.runsync_wait_s if wait is None else wait / 1000
        await endpoints.wait_until_done(job, min(wait_s, settings.runsync_max_wait_s))
        return _status(job.status_body(endpoints.clock()))

    @get("/status/{job_id:str}", operation_id="getJobStatus")
    async def status(
        self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep
    ) -> JobStatusBody:
        endpoints.check_route(endpoint_id, "status", job_id)
        return _status(endpoints.status(endpoint_id, job_id))

    @get("/stream/{job_id:str}", operation_id="getJobStream")
    async def stream(
        self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep
    ) -> dict[str, Any]:
        return endpoints.stream(endpoint_id, job_id)

    @post("/cancel/{job_id:str}", status_code=HTTP_200_OK, operation_id="cancelJob")
    async def cancel(self, endpoint_id: PathParam, job_id: PathParam, endpoints: EndpointsDep) -> JobRef:
        endpoints.check_route(endpoint_id, "cancel", job_id)
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
