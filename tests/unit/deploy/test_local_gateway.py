"""The local gateway routes as the Caddyfile does: each prefix to its service, the Stripe stand-in
under /stripe with the prefix removed, everything else to the console's files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location("local_gateway", ROOT / "deploy/gateway/local.py")
assert spec is not None and spec.loader is not None
gateway = importlib.util.module_from_spec(spec)
sys.modules["local_gateway"] = gateway
spec.loader.exec_module(gateway)

UPSTREAMS = {name: f"http://{name}" for name in gateway.DEFAULTS}


def test_prefixes_go_to_their_services() -> None:
    assert gateway.upstream_for("/auth/login", UPSTREAMS) == ("http://auth", "/auth/login")
    assert gateway.upstream_for("/content", UPSTREAMS) == ("http://catalog", "/content")
    assert gateway.upstream_for("/content/42/playback", UPSTREAMS) == (
        "http://catalog",
        "/content/42/playback",
    )
    assert gateway.upstream_for("/webhooks/runpod/j1", UPSTREAMS) == (
        "http://media-dispatch",
        "/webhooks/runpod/j1",
    )
    assert gateway.upstream_for("/webhooks/stripe", UPSTREAMS) == ("http://purchase", "/webhooks/stripe")


def test_the_stripe_stand_in_loses_its_prefix() -> None:
    assert gateway.upstream_for("/stripe/v1/payment_intents/pi_1/confirm", UPSTREAMS) == (
        "http://stripe-local",
        "/v1/payment_intents/pi_1/confirm",
    )


def test_lookalike_paths_are_the_console_s() -> None:
    assert gateway.upstream_for("/contentious", UPSTREAMS) is None
    assert gateway.upstream_for("/", UPSTREAMS) is None
    assert gateway.upstream_for("/app.js", UPSTREAMS) is None
