"""What cannot be bought (problem details, no PaymentIntent), who may read a purchase, my purchases
page by page."""

from __future__ import annotations

import pytest
from purchase_harness import PurchaseHarness


@pytest.mark.parametrize(
    ("price_cents", "status", "detail"),
    [(0, "published", "free"), (500, "ready", "not published"), (500, "archived", "archived")],
)
async def test_free_unpublished_or_archived_content_is_refused(
    purchase: PurchaseHarness, price_cents: int, status: str, detail: str
) -> None:
    content_id = await purchase.publish(price_cents=price_cents, status=status)
    answer = await purchase.start(content_id, purchase.customer())
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert detail in answer.json()["detail"]
    assert await purchase.stripe.events("payment_intent.created") == []


async def test_unknown_content_and_bad_bodies_are_refused(purchase: PurchaseHarness) -> None:
    buyer = purchase.customer()
    assert (await purchase.start("no-such-content", buyer)).status_code == 409
    bad = await purchase.http.post("/purchases", json={"content_id": ""}, headers=buyer)
    assert bad.status_code == 400
    unknown = await purchase.http.post("/purchases", json={"content_id": "x", "price": 1}, headers=buyer)
    assert unknown.status_code == 400
    assert (await purchase.http.post("/purchases", json={"content_id": "x"})).status_code == 401


async def test_owned_content_is_refused(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish(creator_id="creator-7")
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    await purchase.stripe.pay(body["payment_intent_id"])
    await purchase.reaches(body["purchase_id"], buyer, "completed")
    again = await purchase.start(content_id, buyer)
    assert again.status_code == 409 and "already" in again.json()["detail"]
    # the creator owns their own content
    creator = purchase.customer("creator-7", role="creator")
    assert (await purchase.start(content_id, creator)).status_code == 409


async def test_a_purchase_is_visible_to_its_buyer_and_admins_only(purchase: PurchaseHarness) -> None:
    content_id = await purchase.publish()
    buyer = purchase.customer()
    body = (await purchase.start(content_id, buyer)).json()
    path = f"/purchases/{body['purchase_id']}"
    assert (await purchase.http.get(path, headers=buyer)).status_code == 200
    assert (await purchase.http.get(path, headers=purchase.customer(role="admin"))).status_code == 200
    assert (await purchase.http.get(path, headers=purchase.customer())).status_code == 404
    assert (await purchase.http.get(path)).status_code == 401
    missing = "/purchases/00000000-0000-0000-0000-000000000000"
    assert (await purchase.http.get(missing, headers=buyer)).status_code == 404


async def test_my_purchases_newest_first_with_a_cursor(purchase: PurchaseHarness) -> None:
    buyer = purchase.customer()
    started = [
        (await purchase.start(await purchase.publish(), buyer)).json()["purchase_id"] for _ in range(5)
    ]
    await purchase.start(await purchase.publish(), purchase.customer())  # someone else's
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await purchase.http.get("/purchases", params=params, headers=buyer)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(started))
    bad = await purchase.http.get("/purchases", params={"cursor": "nonsense!"}, headers=buyer)
    assert bad.status_code == 400
