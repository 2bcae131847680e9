"""Local-only admin routes: the fault switches, the webhook log and the workers."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import JSONBody, QueryParameter

from codex_runpod_local.faults import FaultRule, FaultRuleSpec
from codex_runpod_local.http import EndpointsDep, PathParam, PoolDep, api_key_guard


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
