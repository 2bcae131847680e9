"""Local-only admin routes (secret key required): the webhook fault switches and delivery log, the
webhook endpoint, the event log with Stripe's "resend", and disputes, which at Stripe only a
cardholder's bank opens and closes."""

from __future__ import annotations

import dataclasses
import hmac
from typing import Annotated, Any, Literal, TypeAlias

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter

from codex_stripe_local.errors import StripeError
from codex_stripe_local.faults import FaultRule, FaultRuleSpec, Faults
from codex_stripe_local.http import LedgerDep, api_key_of
from codex_stripe_local.settings import Settings
from codex_stripe_local.webhooks import WebhookSender

FaultsDep: TypeAlias = NamedDependency[Faults]
SenderDep: TypeAlias = NamedDependency[WebhookSender]


def secret_key_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    key = api_key_of(connection)  # type: ignore[arg-type]
    if key is None or not hmac.compare_digest(key.encode(), settings.secret_key.encode()):
        raise NotAuthorizedException("the admin routes take the secret key")


class WebhookEndpoint(msgspec.Struct, forbid_unknown_fields=True):
    url: str | None


class DisputeOpen(msgspec.Struct, forbid_unknown_fields=True):
    payment_intent: str | None = None
    charge: str | None = None
    reason: str = "fraudulent"


class DisputeClose(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["won", "lost"]


def _stripe_answer(exc: StripeError) -> Response[dict[str, Any]]:
    return Response(exc.answer(), status_code=exc.status)


class AdminController(Controller):
    path = "/_admin"
    guards = [secret_key_guard]
    tags = ["admin (local only)"]

    @post("/faults", operation_id="addWebhookFault", status_code=201)
    async def add_fault(self, data: JSONBody[FaultRuleSpec], faults: FaultsDep) -> FaultRule:
        try:
            return faults.add(data)
        except ValueError as exc:
            raise ValidationException(str(exc)) from None

    @get("/faults", operation_id="listWebhookFaults")
    async def list_faults(self, faults: FaultsDep) -> list[FaultRule]:
        return list(faults.rules.values())

    @delete("/faults", operation_id="clearWebhookFaults")
    async def clear_faults(self, faults: FaultsDep) -> None:
        faults.clear()

    @delete("/faults/{rule_id:str}", operation_id="removeWebhookFault")
    async def remove_fault(self, rule_id: FromPath[str], faults: FaultsDep) -> None:
        if not faults.remove(rule_id):
            raise NotFoundException(f"no fault rule {rule_id}")

    @post("/webhook-endpoint", operation_id="setWebhookEndpoint", status_code=200)
    async def set_endpoint(self, data: JSONBody[WebhookEndpoint], sender: SenderDep) -> WebhookEndpoint:
        sender.url = data.url or ""
        return WebhookEndpoint(url=sender.url or None)

    @get("/webhooks", operation_id="listWebhookDeliveries")
    async def deliveries(
        self, sender: SenderDep, event_id: Annotated[str | None, QueryParameter()] = None
    ) -> dict[str, Any]:
        attempts = [dataclasses.asdict(a) for a in sender.log if event_id in (None, a.event_id)]
        return {"idle": sender.idle(), "attempts": attempts}

    @get("/events", operation_id="listEvents")
    async def events(
        self,
        ledger: LedgerDep,
        type: Annotated[str | None, QueryParameter()] = None,
        payment_intent: Annotated[str | None, QueryParameter()] = None,
    ) -> list[dict[str, Any]]:
        def concerns(event: dict[str, Any]) -> bool:
            obj = event["data"]["object"]
            return payment_intent in (None, obj.get("id"), obj.get("payment_intent"))

        return [e for e in ledger.events.values() if type in (None, e["type"]) and concerns(e)]

    @post("/events/{event_id:str}/resend", operation_id="resendEvent", status_code=202)
    async def resend(self, event_id: FromPath[str], ledger: LedgerDep, sender: SenderDep) -> None:
        event = ledger.events.get(event_id)
        if event is None:
            raise NotFoundException(f"no event {event_id}")
        sender.resend(event)

    @post("/disputes", operation_id="openDispute", status_code=200)
    async def open_dispute(self, data: JSONBody[DisputeOpen], ledger: LedgerDep) -> Response[dict[str, Any]]:
        try:
            params = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
            return Response(ledger.create_dispute(params))
        except StripeError as exc:
            return _stripe_answer(exc)

    @post("/disputes/{dispute_id:str}/close", operation_id="closeDispute", status_code=200)
    async def close_dispute(
        self, dispute_id: FromPath[str], data: JSONBody[DisputeClose], ledger: LedgerDep
    ) -> Response[dict[str, Any]]:
        try:
            return Response(ledger.close_dispute(dispute_id, data.status))
        except StripeError as exc:
            return _stripe_answer(exc)
