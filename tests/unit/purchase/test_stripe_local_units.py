"""The Stripe stand-in's pieces without a server: bracket-notation forms, the signature the SDK checks,
fault rules, and its refusal to run in production."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from codex_stripe_local.faults import FaultRuleSpec, Faults
from codex_stripe_local.forms import FormError, decode_form
from codex_stripe_local.settings import Settings
from codex_stripe_local.webhooks import sign

from codex_platform.settings import SettingsError


def test_forms_decode_stripes_bracket_notation() -> None:
    body = (
        "amount=500&currency=usd&metadata[purchase_id]=p1&metadata[user_id]=u%201"
        "&expand[0]=latest_charge&automatic_payment_methods[enabled]=true"
    )
    assert decode_form(body) == {
        "amount": "500",
        "currency": "usd",
        "metadata": {"purchase_id": "p1", "user_id": "u 1"},
        "expand": ["latest_charge"],
        "automatic_payment_methods": {"enabled": "true"},
    }
    assert decode_form("expand[]=a&expand[]=b") == {"expand": ["a", "b"]}
    for bad in ("a[b=1", "a]=1", "[x]=1", "a[b]c=1"):
        with pytest.raises(FormError):
            decode_form(bad)


def test_signatures_verify_with_the_sdk_and_only_for_that_body_and_secret() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": {}}}).encode()
    header = sign(payload, "whsec_abc")
    assert stripe.Webhook.construct_event(payload, header, "whsec_abc").id == "evt_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload + b" ", header, "whsec_abc")
    old = sign(payload, "whsec_abc", int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, old, "whsec_abc", tolerance=300)


def test_fault_rules_apply_to_their_types_and_their_count() -> None:
    faults = Faults()
    faults.add(FaultRuleSpec(fault="drop", types=["charge.refunded"], times=1))
    faults.add(FaultRuleSpec(fault="duplicate"))
    assert faults.take("payment_intent.succeeded").fault == "duplicate"
    assert faults.take("charge.refunded").fault == "drop"
    assert faults.take("charge.refunded").fault == "duplicate"
    with pytest.raises(ValueError):
        faults.add(FaultRuleSpec(fault="delay", delay_s=-1))


def test_the_stand_in_refuses_production() -> None:
    with pytest.raises(SettingsError, match="production"):
        Settings.from_env({"ENVIRONMENT": "production"})
    assert Settings.from_env({"STRIPE_SECRET_KEY": "sk_test_mine"}).secret_key == "sk_test_mine"
