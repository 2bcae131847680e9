"""The API routes the purchase service (through the official SDK) and a browser (Stripe.js-style, with
the publishable key and the client secret) use, under /v1, answering in Stripe's shapes. Each route
only translates HTTP to a call on the `Ledger`; keys, idempotency and errors are handled once, here."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any, TypeAlias

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from codex_stripe_local.errors import StripeError, invalid
from codex_stripe_local.forms import FormError, decode_form
from codex_stripe_local.idempotency import IdempotencyKeys
from codex_stripe_local.ledger import Ledger
from codex_stripe_local.objects import new_id
from codex_stripe_local.settings import Settings

__all__ = ["ApiController", "LedgerDep", "SettingsDep", "api_key_of"]

LedgerDep: TypeAlias = NamedDependency[Ledger]
SettingsDep: TypeAlias = NamedDependency[Settings]
KeysDep: TypeAlias = NamedDependency[IdempotencyKeys]
Id: TypeAlias = FromPath[str]
Params: TypeAlias = dict[str, Any]
AnyRequest: TypeAlias = Request[Any, Any, Any]


def api_key_of(request: AnyRequest) -> str | None:
    """`Authorization: Bearer <key>` (the SDKs) or HTTP Basic with the key as user (curl -u sk_...:)."""
    header = request.headers.get("authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _authenticate(
    request: AnyRequest, settings: Settings, params: Params, intent: dict[str, Any] | None
) -> str:
    key = api_key_of(request)
    if key is None:
        raise StripeError(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if _matches(key, settings.secret_key):
        return key
    # A publishable key may retrieve or confirm one PaymentIntent, given its client secret (Stripe.js).
    if intent is not None and _matches(key, settings.publishable_key):
        secret = params.get("client_secret")
        if isinstance(secret, str) and _matches(secret, intent["client_secret"]):
            return key
        raise invalid(
            "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
            param="client_secret",
        )
    raise StripeError(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}****{key[-4:]}")


def _response(
    status: int, body: dict[str, Any], request: AnyRequest, settings: Settings, replayed: bool = False
) -> Response[bytes]:
    headers = {
        "Request-Id": new_id("req", 14),
        "Stripe-Version": request.headers.get("stripe-version") or settings.api_version,
    }
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        msgspec.json.encode(body), status_code=status, media_type="application/json", headers=headers
    )


async def _call(
    request: AnyRequest,
    settings: Settings,
    keys: IdempotencyKeys,
    action: Callable[[Params], dict[str, Any]],
    *,
    intent_of: Callable[[], dict[str, Any] | None] = lambda: None,
) -> Response[bytes]:
    post = request.method == "POST"
    try:
        params = decode_form(await request.body() if post else request.url.query or "")
        api_key = _authenticate(request, settings, params, intent_of())
    except FormError as exc:
        return _response(400, invalid(str(exc), param=exc.param).answer(), request, settings)
    except StripeError as exc:
        return _response(exc.status, exc.answer(), request, settings)
    idempotency_key = request.headers.get("idempotency-key") if post else None
    fingerprint = keys.fingerprint(request.method, request.url.path, params)
    if idempotency_key:
        if len(idempotency_key) > 255:
            error = invalid("Idempotency-Key is at most 255 characters.", param="Idempotency-Key")
            return _response(400, error.answer(), request, settings)
        try:
            saved = keys.replay(api_key, idempotency_key, fingerprint)
        except StripeError as exc:
            return _response(exc.status, exc.answer(), request, settings)
        if saved is not None:
            return _response(saved.status, saved.body, request, settings, replayed=True)
    executed = True
    try:
        status, body = 200, action(params)
    except StripeError as exc:
        status, body, executed = exc.status, exc.answer(), exc.executed
    if idempotency_key and executed:
        keys.save(api_key, idempotency_key, fingerprint, status, body)
    return _response(status, body, request, settings)


class ApiController(Controller):
    path = "/v1"
    tags = ["Stripe API (subset)"]

    @post("/payment_intents", operation_id="createPaymentIntent")
    async def create_intent(
        self, request: AnyRequest, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, ledger.create_intent)

    @get("/payment_intents/{intent_id:str}", operation_id="retrievePaymentIntent")
    async def retrieve_intent(
        self, request: AnyRequest, intent_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(
            request,
            settings,
            keys,
            lambda p: ledger.intent(intent_id, p),
            intent_of=lambda: ledger.intents.get(intent_id),
        )

    @post("/payment_intents/{intent_id:str}/confirm", operation_id="confirmPaymentIntent")
    async def confirm_intent(
        self, request: AnyRequest, intent_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(
            request,
            settings,
            keys,
            lambda p: ledger.confirm_intent(intent_id, p),
            intent_of=lambda: ledger.intents.get(intent_id),
        )

    @post("/payment_intents/{intent_id:str}/cancel", operation_id="cancelPaymentIntent")
    async def cancel_intent(
        self, request: AnyRequest, intent_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, lambda p: ledger.cancel_intent(intent_id, p))

    @get("/charges/{charge_id:str}", operation_id="retrieveCharge")
    async def retrieve_charge(
        self, request: AnyRequest, charge_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, lambda _: ledger.charge(charge_id))

    @post("/refunds", operation_id="createRefund")
    async def create_refund(
        self, request: AnyRequest, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, ledger.create_refund)

    @get("/refunds/{refund_id:str}", operation_id="retrieveRefund")
    async def retrieve_refund(
        self, request: AnyRequest, refund_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, lambda _: ledger.refund(refund_id))

    @get("/disputes", operation_id="listDisputes")
    async def list_disputes(
        self, request: AnyRequest, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, ledger.list_disputes)

    @get("/disputes/{dispute_id:str}", operation_id="retrieveDispute")
    async def retrieve_dispute(
        self, request: AnyRequest, dispute_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, lambda _: ledger.dispute(dispute_id))

    @get("/events/{event_id:str}", operation_id="retrieveEvent")
    async def retrieve_event(
        self, request: AnyRequest, event_id: Id, ledger: LedgerDep, settings: SettingsDep, keys: KeysDep
    ) -> Response[bytes]:
        return await _call(request, settings, keys, lambda _: ledger.event(event_id))
