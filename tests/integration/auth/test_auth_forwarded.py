"""Behind the gateway, rate limits count each client, and nobody else can claim to be one.

uvicorn replaces the peer's address with X-Forwarded-For only when the peer is listed in
FORWARDED_ALLOW_IPS (an address or a CIDR network). Compose lists the gateway's address and
publishes no service port, so every request reaches auth through the gateway, which names the
client; a request from anywhere else cannot choose the address its limits are counted against."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from codex_auth.app import create_app
from codex_auth.settings import AuthSettings
from codex_platform.testing import serve

COMPOSE = Path(__file__).parents[3] / "compose.yaml"


def test_compose_reaches_auth_through_the_gateway_alone_and_trusts_only_it() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    auth, gateway = compose["services"]["auth"], compose["services"]["gateway"]
    assert "ports" not in auth  # no way around the gateway from outside
    trusted = auth["environment"]["FORWARDED_ALLOW_IPS"]
    assert trusted not in ("*", "") and "0.0.0.0/0" not in trusted
    [gateway_ip] = [net["ipv4_address"] for net in gateway["networks"].values() if net]
    networks = [ipaddress.ip_network(part.strip()) for part in trusted.split(",")]
    assert any(ipaddress.ip_address(gateway_ip) in network for network in networks)
    assert all(network.num_addresses <= 256 for network in networks)  # the gateway's, not the world


@pytest.mark.parametrize(
    ("trusted", "each_client_counted"),
    [
        ("172.30.0.10", False),  # compose's value: this test's peer (127.0.0.1) is not the gateway
        ("127.0.0.0/8", True),  # the peer is on the trusted network, as the gateway is in compose
    ],
)
async def test_forwarded_addresses_count_only_from_the_trusted_peer(
    trusted: str,
    each_client_counted: bool,
    auth_settings_factory: Callable[..., AuthSettings],
    migrated: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", trusted)
    app = create_app(auth_settings_factory(login_limit="1/10"))
    body: dict[str, Any] = {"email": "nobody@example.com", "password": "whatever it is"}
    async with serve(app, forwarded_allow_ips=None) as url, httpx.AsyncClient(base_url=url) as client:
        first = await client.post("/auth/login", json=body, headers={"X-Forwarded-For": "192.0.2.1"})
        second = await client.post("/auth/login", json=body, headers={"X-Forwarded-For": "192.0.2.2"})
    assert first.status_code == 401
    assert second.status_code == (401 if each_client_counted else 429)
