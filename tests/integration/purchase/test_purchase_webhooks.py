"""Stripe's webhook rules: the signature verified on the raw body (bad, stale or altered bodies refused
with nothing changed), duplicates applied once, the payment's current state applied whatever the order
of arrival: `succeeded` after `refunded` never grants again, disputes revoke and a won one grants anew,
and a dropped webhook is settled by the reconciler."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest
from purchase_harness import PurchaseHarness

from codex_platform.errors import Unavailable
from codex_purchase.bootstrap import bootstrap
from codex_purchase.purchasing import start_purchase
from codex_purchase.reconciler import reconcile_once
from codex_purchase.webhooks import apply_event, receive_event


async def _paid(purchase: PurchaseHarness) -> tuple[dict[str, Any], dict[str, str]]:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    await purchase.stripe.pay(body["payment_intent_id"])
    return body, buyer


async def _post(purchase: PurchaseHarness, body: bytes, signature: str) -> Any:
    return await purchase.http.post(
        "/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def test_bad_stale_or_altered_webhooks_are_refused_and_change_nothing(
    purchase: PurchaseHarness,
) -> None:
    await purchase.stripe.fault("drop")  # only the forged deliveries below reach the service
    body, buyer = await _paid(purchase)
    [succeeded] = await purchase.stripe.events("payment_intent.succeeded", body["payment_intent_id"])

    payload, signature = purchase.stripe.signed(succeeded)
    forged = signature.split("v1=")[0] + "v1=" + "0" * 64
    stale_payload, stale = purchase.stripe.signed(succeeded, at=int(time.time()) - 301)
    altered = payload.replace(b'"succeeded"', b'"canceled"', 1)
    assert altered != payload
    for bad_body, bad_signature in [
        (payload, forged),
        (stale_payload, stale),
        (altered, signature),
        (payload, ""),
        (b"not json", purchase.stripe.signed({"x": 1})[1]),
    ]:
        answer = await _post(purchase, bad_body, bad_signature)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert await purchase.stored_events() == 0
    assert await purchase.status(body["purchase_id"], buyer) == "pending"

    # the genuine one, just inside the tolerance, is taken
    fresh_payload, fresh = purchase.stripe.signed(succeeded, at=int(time.time()) - 290)
    assert (await _post(purchase, fresh_payload, fresh)).status_code == 200
    await purchase.reaches(body["purchase_id"], buyer, "completed")


async def test_the_same_webhook_three_times_grants_once(purchase: PurchaseHarness) -> None:
    await purchase.stripe.fault("duplicate", "payment_intent.succeeded")
    body, buyer = await _paid(purchase)
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    [succeeded] = await purchase.stripe.events("payment_intent.succeeded", body["payment_intent_id"])
    await purchase.stripe.admin("POST", f"/events/{succeeded['id']}/resend")  # a third delivery
    await purchase.webhooks_settled()
    deliveries = (await purchase.stripe.admin("GET", f"/webhooks?event_id={succeeded['id']}"))["attempts"]
    assert [d["outcome"] for d in deliveries] == ["delivered"] * 3

    payload, signature = purchase.stripe.signed(succeeded)
    answer = await _post(purchase, payload, signature)
    assert answer.json() == {"received": True, "duplicate": True}
    assert len(await purchase.published_events("purchase.completed.v1")) == 1


async def test_succeeded_after_refunded_never_grants_again(purchase: PurchaseHarness) -> None:
    # The succeeded webhook is held back until the refund's events have gone out.
    await purchase.stripe.fault("delay", "payment_intent.succeeded", delay_s=1.5)
    body, buyer = await _paid(purchase)
    await purchase.stripe.sdk.v1.refunds.create_async(params={"payment_intent": body["payment_intent_id"]})
    await purchase.reaches(body["purchase_id"], buyer, "refunded")
    await asyncio.sleep(1.6)
    await purchase.webhooks_settled()
    assert await purchase.status(body["purchase_id"], buyer) == "refunded"
    assert await purchase.published_events("purchase.completed.v1") == []

    # and once granted then refunded, a replayed `succeeded` does not grant again either
    second, buyer2 = await _paid(purchase)
    await purchase.reaches(second["purchase_id"], buyer2, "completed")
    await purchase.stripe.sdk.v1.refunds.create_async(params={"payment_intent": second["payment_intent_id"]})
    await purchase.reaches(second["purchase_id"], buyer2, "refunded")
    [succeeded] = await purchase.stripe.events("payment_intent.succeeded", second["payment_intent_id"])
    payload, signature = purchase.stripe.signed({**succeeded, "id": succeeded["id"] + "_replayed"})
    assert (await _post(purchase, payload, signature)).status_code == 200
    await purchase.webhooks_settled()
    assert await purchase.status(second["purchase_id"], buyer2) == "refunded"
    assert len(await purchase.published_events("purchase.completed.v1")) == 1
    [refunded] = await purchase.published_events("purchase.refunded.v1")
    assert refunded["data"]["purchase_id"] == second["purchase_id"]
    assert refunded["data"]["fully_refunded"] is True
    assert refunded["data"]["amount_refunded_cents"] == 500


async def test_a_partial_refund_is_recorded_and_keeps_access(purchase: PurchaseHarness) -> None:
    body, buyer = await _paid(purchase)
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    await purchase.stripe.sdk.v1.refunds.create_async(
        params={"payment_intent": body["payment_intent_id"], "amount": 200}
    )
    await purchase.webhooks_settled()
    view = (await purchase.http.get(f"/purchases/{body['purchase_id']}", headers=buyer)).json()
    assert (view["status"], view["amount_refunded_cents"]) == ("completed", 200)
    assert await purchase.published_events("purchase.refunded.v1") == []


async def test_a_dispute_revokes_and_a_won_dispute_grants_anew(purchase: PurchaseHarness) -> None:
    body, buyer = await _paid(purchase)
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    dispute = await purchase.stripe.admin("POST", "/disputes", {"payment_intent": body["payment_intent_id"]})
    await purchase.reaches(body["purchase_id"], buyer, "disputed")
    [revoked] = await purchase.published_events("purchase.refunded.v1")
    assert revoked["data"]["fully_refunded"] is True

    await purchase.stripe.admin("POST", f"/disputes/{dispute['id']}/close", {"status": "won"})
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    first, second = await purchase.published_events("purchase.completed.v1")
    # catalog keeps the latest by the event's own time: the new completion is later than the revocation
    assert second["data"]["completed_at"] > revoked["data"]["refunded_at"] > first["data"]["completed_at"]


async def test_a_lost_dispute_stays_revoked(purchase: PurchaseHarness) -> None:
    body, buyer = await _paid(purchase)
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    dispute = await purchase.stripe.admin("POST", "/disputes", {"payment_intent": body["payment_intent_id"]})
    await purchase.stripe.admin("POST", f"/disputes/{dispute['id']}/close", {"status": "lost"})
    await purchase.webhooks_settled()
    assert await purchase.status(body["purchase_id"], buyer) == "disputed"
    assert len(await purchase.published_events("purchase.completed.v1")) == 1


async def test_out_of_order_webhooks_end_in_stripes_state(purchase: PurchaseHarness) -> None:
    await purchase.stripe.fault("reorder", "payment_intent.succeeded")
    body, buyer = await _paid(purchase)
    await purchase.stripe.sdk.v1.refunds.create_async(params={"payment_intent": body["payment_intent_id"]})
    await purchase.webhooks_settled()
    assert await purchase.status(body["purchase_id"], buyer) == "refunded"
    assert await purchase.published_events("purchase.completed.v1") == []


async def test_a_dropped_webhook_is_settled_by_the_reconciler(
    purchase: PurchaseHarness, purchase_settings_factory: Any
) -> None:
    await purchase.stripe.fault("drop")
    body, buyer = await _paid(purchase)
    await asyncio.sleep(0.3)
    assert await purchase.status(body["purchase_id"], buyer) == "pending"

    deps = purchase.deps
    patient = dataclasses.replace(deps, settings=purchase_settings_factory(reconcile_after_s=60))
    assert await reconcile_once(patient) == 0  # not pending for long enough yet
    eager = dataclasses.replace(deps, settings=purchase_settings_factory(reconcile_after_s=0.1))
    assert await reconcile_once(eager) == 1
    assert await purchase.status(body["purchase_id"], buyer) == "completed"
    assert len(await purchase.published_events("purchase.completed.v1")) == 1


async def test_unknown_event_types_are_acknowledged_and_ignored(purchase: PurchaseHarness) -> None:
    event = {
        "id": "evt_unknown1",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    payload, signature = purchase.stripe.signed(event)
    answer = await _post(purchase, payload, signature)
    assert answer.status_code == 200 and answer.json()["duplicate"] is False
    assert json.loads(payload)["id"] == "evt_unknown1"
    assert await purchase.published_events() == []


async def test_stripe_unreachable_answers_503_and_the_abandoned_purchase_is_canceled(
    purchase: PurchaseHarness, purchase_settings_factory: Any
) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    settings = purchase_settings_factory(stripe_api_base="http://127.0.0.1:9", stripe_max_network_retries=0)
    async with bootstrap(settings) as offline:
        with pytest.raises(Unavailable):
            buyer_id = purchase.tokens.user_of(buyer["Authorization"][7:])
            await start_purchase(offline, customer_id=buyer_id, content_id=content_id)
        [row] = await purchase.deps.pool.fetch("SELECT id, status, payment_intent_id FROM purchases")
        assert (row["status"], row["payment_intent_id"]) == ("pending", None)
        eager = dataclasses.replace(offline, settings=purchase_settings_factory(reconcile_after_s=0.1))
        await asyncio.sleep(0.2)
        assert await reconcile_once(eager) == 1
    assert await purchase.status(str(row["id"]), buyer) == "canceled"


async def test_an_event_that_could_not_be_applied_is_applied_by_the_worker(
    purchase: PurchaseHarness, purchase_settings_factory: Any
) -> None:
    await purchase.stripe.fault("drop")
    body, buyer = await _paid(purchase)
    [succeeded] = await purchase.stripe.events("payment_intent.succeeded", body["payment_intent_id"])
    offline_settings = purchase_settings_factory(
        stripe_api_base="http://127.0.0.1:9", stripe_max_network_retries=0
    )
    async with bootstrap(offline_settings) as offline:
        event = offline.stripe.verify(*purchase.stripe.signed(succeeded))
        assert await receive_event(offline, event)
        assert not await apply_event(offline, event.id, body["payment_intent_id"])  # Stripe unreachable
    assert await purchase.status(body["purchase_id"], buyer) == "pending"

    retry_now = dataclasses.replace(
        purchase.deps, settings=purchase_settings_factory(event_retry_after_s=0.01, reconcile_after_s=3600)
    )
    await asyncio.sleep(0.05)
    assert await reconcile_once(retry_now) == 1
    assert await purchase.status(body["purchase_id"], buyer) == "completed"
    assert await reconcile_once(retry_now) == 0  # applied once


async def test_a_purchase_left_unpaid_is_given_up_and_its_intent_canceled_at_stripe(
    purchase: PurchaseHarness, purchase_settings_factory: Any
) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    await asyncio.sleep(0.2)
    settings = purchase_settings_factory(reconcile_after_s=0.1, abandon_after_s=3600)
    assert await reconcile_once(dataclasses.replace(purchase.deps, settings=settings)) == 1
    assert await purchase.status(body["purchase_id"], buyer) == "pending"  # not long enough to give up

    settings = purchase_settings_factory(reconcile_after_s=0.01, abandon_after_s=0.1)
    await asyncio.sleep(0.05)
    assert await reconcile_once(dataclasses.replace(purchase.deps, settings=settings)) == 1
    assert await purchase.status(body["purchase_id"], buyer) == "canceled"
    intent = await purchase.stripe.sdk.v1.payment_intents.retrieve_async(body["payment_intent_id"])
    assert (intent.status, intent.cancellation_reason) == ("canceled", "abandoned")
