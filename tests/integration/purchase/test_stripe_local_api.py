"""The Stripe stand-in through the official SDK: Stripe's shapes and errors, idempotency keys, the test
payment methods, the publishable-key confirmation a browser makes, and webhooks signed and retried as
Stripe does them, with the fault switches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe
from litestar import Litestar, Request, Response, post
from purchase_harness import StripeLocal, eventually

from codex_platform.testing import serve


async def _intent(local: StripeLocal, **params: Any) -> Any:
    return await local.sdk.v1.payment_intents.create_async(
        params={"amount": 500, "currency": "usd", **params}
    )


async def test_idempotency_keys_replay_the_first_answer_and_refuse_other_parameters(
    stripe_local: StripeLocal,
) -> None:
    sdk = stripe_local.sdk.v1.payment_intents
    params: Any = {"amount": 500, "currency": "usd", "metadata": {"purchase_id": "p1"}}
    first = await sdk.create_async(params=params, options={"idempotency_key": "key-1"})
    again = await sdk.create_async(params=params, options={"idempotency_key": "key-1"})
    assert again.id == first.id and again.client_secret == first.client_secret
    with pytest.raises(stripe.IdempotencyError):
        await sdk.create_async(params={**params, "amount": 600}, options={"idempotency_key": "key-1"})
    # a request that failed validation saves nothing: the key is still free
    with pytest.raises(stripe.InvalidRequestError):
        await sdk.create_async(params={"currency": "usd"}, options={"idempotency_key": "key-2"})
    created = await sdk.create_async(params=params, options={"idempotency_key": "key-2"})
    assert created.id != first.id
    # an executed failure (a declined card) is saved and replayed
    declined: list[str] = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as error:
            await sdk.confirm_async(
                created.id,
                params={"payment_method": "pm_card_chargeDeclined"},
                options={"idempotency_key": "key-3"},
            )
        declined.append(error.value.error.charge)  # type: ignore[union-attr]
    assert declined[0] == declined[1]
    raw = await stripe_local.http.post(
        "/v1/payment_intents", data={"amount": "500", "currency": "usd"}, headers={"Idempotency-Key": "key-1"}
    )
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "idempotency_error"


async def test_errors_have_stripes_shape_and_status(stripe_local: StripeLocal) -> None:
    sdk = stripe_local.sdk.v1.payment_intents
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await sdk.create_async(params={"currency": "usd"})  # type: ignore[typeddict-item]
    assert (missing.value.http_status, missing.value.code, missing.value.param) == (
        400,
        "parameter_missing",
        "amount",
    )
    with pytest.raises(stripe.InvalidRequestError) as small:
        await sdk.create_async(params={"amount": 10, "currency": "usd"})
    assert small.value.code == "amount_too_small"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await sdk.create_async(params={"amount": 500, "currency": "usd", "colour": "red"})  # type: ignore[typeddict-unknown-key]
    assert unknown.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as absent:
        await sdk.retrieve_async("pi_missing")
    assert (absent.value.http_status, absent.value.code) == (404, "resource_missing")
    wrong = httpx.AsyncClient(base_url=stripe_local.url, headers={"Authorization": "Bearer sk_test_wrong"})
    async with wrong:
        answer = await wrong.get("/v1/payment_intents/pi_x")
    assert answer.status_code == 401 and answer.json()["error"]["type"] == "invalid_request_error"
    unknown_route = await stripe_local.http.get("/v1/customers")
    assert unknown_route.status_code == 404
    assert unknown_route.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/customers)"
    )
    assert (await stripe_local.http.delete("/_admin/faults/fault_nope")).status_code == 404

    intent = await _intent(stripe_local)
    paid = await stripe_local.pay(intent.id)
    assert (paid.status, paid.amount_received) == ("succeeded", 500)
    with pytest.raises(stripe.InvalidRequestError) as late:
        await sdk.cancel_async(intent.id)
    assert late.value.code == "payment_intent_unexpected_state"
    refunds = stripe_local.sdk.v1.refunds
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await refunds.create_async(params={"payment_intent": intent.id, "amount": 501})
    assert too_much.value.code == "amount_too_large"
    refund = await refunds.create_async(params={"payment_intent": intent.id})
    assert (refund.object, refund.amount, refund.status) == ("refund", 500, "succeeded")
    charge = await stripe_local.sdk.v1.charges.retrieve_async(paid.latest_charge)  # type: ignore[arg-type]
    assert (charge.refunded, charge.amount_refunded, charge.payment_intent) == (True, 500, intent.id)
    with pytest.raises(stripe.InvalidRequestError) as twice:
        await refunds.create_async(params={"payment_intent": intent.id})
    assert twice.value.code == "charge_already_refunded"


async def test_a_browser_confirms_with_the_publishable_key_and_the_client_secret(
    stripe_local: StripeLocal,
) -> None:
    intent = await _intent(stripe_local)
    browser = httpx.AsyncClient(
        base_url=stripe_local.url,
        headers={"Authorization": f"Bearer {stripe_local.settings.publishable_key}"},
    )
    async with browser:
        confirm = f"/v1/payment_intents/{intent.id}/confirm"
        wrong = await browser.post(confirm, data={"payment_method": "pm_card_visa", "client_secret": "nope"})
        assert wrong.status_code == 400
        other = await browser.post("/v1/payment_intents", data={"amount": "500", "currency": "usd"})
        assert other.status_code == 401
        secret = intent.client_secret
        right = await browser.post(confirm, data={"payment_method": "pm_card_visa", "client_secret": secret})
        assert right.status_code == 200 and right.json()["status"] == "succeeded"


@pytest.fixture
async def receiver(stripe_local: StripeLocal) -> AsyncIterator[list[tuple[str, dict[str, Any]]]]:
    """An endpoint that verifies each delivery with the SDK, records it, and fails the first one."""
    received: list[tuple[str, dict[str, Any]]] = []
    calls = [0]

    @post("/hook", status_code=200)
    async def hook(request: Request[Any, Any, Any]) -> Response[str]:
        calls[0] += 1
        if calls[0] == 1:
            return Response("try again", status_code=503)
        body = await request.body()
        event = stripe.Webhook.construct_event(
            body, request.headers.get("stripe-signature"), stripe_local.settings.webhook_secret
        )
        received.append((event.type, event.data.object.to_dict()))
        return Response("ok")

    async with serve(Litestar([hook])) as url:
        await stripe_local.admin("POST", "/webhook-endpoint", {"url": f"{url}/hook"})
        yield received


async def _settled(local: StripeLocal) -> None:
    async def idle() -> bool:
        return bool((await local.admin("GET", "/webhooks"))["idle"])

    await eventually(idle)


async def test_webhooks_are_signed_retried_and_follow_the_fault_switches(
    stripe_local: StripeLocal, receiver: list[tuple[str, dict[str, Any]]]
) -> None:
    intent = await _intent(stripe_local)  # its created event is refused once, then retried
    await _settled(stripe_local)
    assert [t for t, _ in receiver] == ["payment_intent.created"]
    created = (await stripe_local.admin("GET", "/webhooks"))["attempts"]
    assert [(a["attempt"], a["outcome"]) for a in created] == [(1, "rejected"), (2, "delivered")]

    await stripe_local.fault("duplicate", "payment_intent.succeeded", times=1)
    await stripe_local.fault("drop", "charge.succeeded", times=1)
    await stripe_local.pay(intent.id)
    await _settled(stripe_local)
    assert [t for t, _ in receiver[1:]] == ["payment_intent.succeeded", "payment_intent.succeeded"]
    assert receiver[1][1]["status"] == "succeeded"

    await stripe_local.fault("reorder", "refund.created", times=1)
    await stripe_local.sdk.v1.refunds.create_async(params={"payment_intent": intent.id})
    await _settled(stripe_local)
    assert [t for t, _ in receiver[3:]] == ["charge.refunded", "refund.created"]
    assert receiver[3][1]["refunded"] is True

    await stripe_local.fault("delay", delay_s=0.5, times=1)
    late = await _intent(stripe_local)
    await asyncio.sleep(0.1)
    assert [o["id"] for t, o in receiver if t == "payment_intent.created"] == [intent.id]
    await _settled(stripe_local)
    assert receiver[-1][1]["id"] == late.id


async def test_disputes_are_opened_and_closed_by_the_admin_switch(
    stripe_local: StripeLocal, receiver: list[tuple[str, dict[str, Any]]]
) -> None:
    intent = await _intent(stripe_local)
    await stripe_local.pay(intent.id)
    dispute = await stripe_local.admin("POST", "/disputes", {"payment_intent": intent.id})
    assert (dispute["object"], dispute["status"], dispute["payment_intent"]) == (
        "dispute",
        "needs_response",
        intent.id,
    )
    listed = await stripe_local.sdk.v1.disputes.list_async(params={"payment_intent": intent.id})
    assert [d.id for d in listed.data] == [dispute["id"]]
    await stripe_local.admin("POST", f"/disputes/{dispute['id']}/close", {"status": "won"})
    assert (await stripe_local.sdk.v1.disputes.retrieve_async(dispute["id"])).status == "won"
    await _settled(stripe_local)
    types = [t for t, _ in receiver]  # the first delivery was refused and came again later
    assert types.index("charge.dispute.created") < types.index("charge.dispute.closed")
