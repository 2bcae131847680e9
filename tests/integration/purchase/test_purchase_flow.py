"""The purchase flow through the SDK against the Stripe stand-in: start, pay, the signed webhook, the
completion event in the outbox, the receipt; a pending purchase reused; a declined card."""

from __future__ import annotations

import asyncio

import pytest
import stripe
from purchase_harness import PurchaseHarness, eventually


async def test_paying_completes_the_purchase_once_with_its_event_and_receipt(
    purchase: PurchaseHarness,
) -> None:
    content_id = await purchase.publish(price_cents=799, title="The Long Take")
    buyer = purchase.customer()
    await purchase.register(buyer, email="ada@example.com")

    started = await purchase.start(content_id, buyer)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["amount"] == 799 and body["currency"] == "usd"
    assert body["status"] == "pending"
    assert body["publishable_key"] == purchase.stripe.settings.publishable_key
    assert body["client_secret"].startswith(body["payment_intent_id"] + "_secret_")

    intent = await purchase.stripe.sdk.v1.payment_intents.retrieve_async(body["payment_intent_id"])
    assert intent.amount == 799
    assert intent.metadata["purchase_id"] == body["purchase_id"]
    assert intent.metadata["content_id"] == content_id
    assert intent.automatic_payment_methods is not None
    assert intent.automatic_payment_methods.allow_redirects == "never"  # confirmed in the page

    await purchase.stripe.pay(body["payment_intent_id"])
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    await purchase.webhooks_settled()

    completed = await purchase.published_events("purchase.completed.v1")
    assert len(completed) == 1
    event = completed[0]["data"]
    assert event["purchase_id"] == body["purchase_id"]
    assert event["content_id"] == content_id
    assert event["customer_id"] == purchase.tokens.user_of(buyer["Authorization"][7:])
    assert event["amount_cents"] == 799
    assert event["payment_intent_id"] == body["payment_intent_id"]

    mails = await eventually(lambda: asyncio.to_thread(lambda: list(purchase.mail_folder.glob("*.eml"))))
    receipt = mails[0].read_text()
    assert "ada@example.com" in receipt and "The Long Take" in receipt and "7.99 USD" in receipt

    view = (await purchase.http.get(f"/purchases/{body['purchase_id']}", headers=buyer)).json()
    assert view["completed_at"] is not None and view["amount_cents"] == 799


async def test_a_second_request_while_pending_returns_the_pending_purchase(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    first = await purchase.start(content_id, buyer)
    again = await purchase.start(content_id, buyer)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


async def test_two_concurrent_purchases_create_one_payment_intent(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    answers = await asyncio.gather(*(purchase.start(content_id, buyer) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["purchase_id"] for a in answers}) == 1
    assert len({a.json()["payment_intent_id"] for a in answers}) == 1
    created = await purchase.stripe.events("payment_intent.created")
    mine = [e for e in created if e["data"]["object"]["metadata"].get("content_id") == content_id]
    assert len(mine) == 1


async def test_a_declined_card_ends_failed_without_access(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    with pytest.raises(stripe.CardError) as declined:
        await purchase.stripe.pay(body["payment_intent_id"], "pm_card_chargeDeclined")
    assert declined.value.code == "card_declined"
    await purchase.reaches(body["purchase_id"], buyer, "failed")
    assert await purchase.published_events("purchase.completed.v1") == []
    # a failed purchase does not block a new attempt
    retry = await purchase.start(content_id, buyer)
    assert retry.status_code == 201 and retry.json()["purchase_id"] != body["purchase_id"]


async def test_a_canceled_intent_ends_canceled(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    await purchase.stripe.sdk.v1.payment_intents.cancel_async(body["payment_intent_id"])
    await purchase.reaches(body["purchase_id"], buyer, "canceled")
