"""The purchase's rules without I/O: what can be sold, and where Stripe's state moves a purchase."""

from __future__ import annotations

import dataclasses

import pytest

from codex_purchase.domain import (
    AlreadyOwned,
    ContentNotForSale,
    Payment,
    Price,
    Status,
    Transition,
    check_for_sale,
    transition,
)

PAID = Payment("pi_1", "succeeded", declined=False, amount_refunded=0)
REFUNDED = Payment("pi_1", "succeeded", declined=False, amount_refunded=500, fully_refunded=True)
PARTIAL = Payment("pi_1", "succeeded", declined=False, amount_refunded=200)
DISPUTED = Payment("pi_1", "succeeded", declined=False, dispute="open")
LOST = Payment("pi_1", "succeeded", declined=False, dispute="lost")
WON = Payment("pi_1", "succeeded", declined=False, dispute="won")
DECLINED = Payment("pi_1", "requires_payment_method", declined=True)
UNPAID = Payment("pi_1", "requires_payment_method", declined=False)
CANCELED = Payment("pi_1", "canceled", declined=False)


def _price(**changes: object) -> Price:
    price = Price(content_id="c1", creator_id="creator", price_cents=500, currency="usd", status="published")
    return dataclasses.replace(price, **changes)  # type: ignore[arg-type]


def test_only_published_priced_content_of_others_is_for_sale() -> None:
    assert check_for_sale(_price(), buyer_id="ada", owned=False).price_cents == 500
    for price in (None, _price(price_cents=0), _price(status="ready"), _price(status="archived")):
        with pytest.raises(ContentNotForSale):
            check_for_sale(price, buyer_id="ada", owned=False)
    with pytest.raises(AlreadyOwned):
        check_for_sale(_price(), buyer_id="ada", owned=True)
    with pytest.raises(AlreadyOwned):
        check_for_sale(_price(), buyer_id="creator", owned=False)


@pytest.mark.parametrize(
    ("current", "payment", "expected"),
    [
        ("pending", PAID, Transition("completed", grants=True, receipt=True)),
        ("pending", UNPAID, None),
        ("pending", DECLINED, Transition("failed")),
        ("failed", PAID, Transition("completed", grants=True, receipt=True)),
        ("pending", CANCELED, Transition("canceled")),
        ("pending", REFUNDED, Transition("refunded")),  # refunded before we saw it paid: never granted
        ("completed", PAID, None),  # a duplicate
        ("completed", PARTIAL, None),  # access kept
        ("completed", REFUNDED, Transition("refunded", revokes=True)),
        ("completed", DISPUTED, Transition("disputed", revokes=True)),
        ("disputed", DISPUTED, None),
        ("disputed", LOST, None),
        ("disputed", WON, Transition("completed", grants=True)),  # access back, no second receipt
        ("refunded", PAID, None),  # a late `succeeded` never grants again
        ("refunded", WON, None),
        ("canceled", PAID, None),
    ],
)
def test_transitions_follow_stripes_state(
    current: Status, payment: Payment, expected: Transition | None
) -> None:
    assert transition(current, payment) == expected
