"""Limits shared across replicas (two app instances, one Redis): per client address (IPv6 by /64),
per address for mails, and the per-account lock after repeated failed logins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from auth_harness import AuthHarness


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_sign_ups_are_limited_per_client_across_replicas_then_lifted(
    start_auth: Callable[..., Any],
) -> None:
    async with start_auth(signup_limit="3/2") as one, start_auth(signup_limit="3/2") as two:
        a, b = one.client(), two.client()
        # One client address, whichever replica answers: the count is in Redis, not in a process.
        statuses = [
            (await harness.sign_up(client, f"user{i}@example.com")).status_code
            for i, (harness, client) in enumerate([(one, a), (two, b), (one, a)])
        ]
        assert statuses == [202, 202, 202]
        refused = await two.sign_up(b, "user4@example.com")
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 2
        assert refused.json()["status"] == 429
        await asyncio.sleep(retry_after + 0.1)
        assert (await one.sign_up(a, "user4@example.com")).status_code == 202


async def test_ipv6_clients_are_limited_by_their_64_network(start_auth: Callable[..., Any]) -> None:
    async with start_auth(login_limit="3/10") as auth:
        client = auth.client()
        body = {"email": "nobody@example.com", "password": "whatever it is"}
        for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
            assert (await client.post("/auth/login", json=body, headers=from_ip(host))).status_code == 401
        same_network = await client.post("/auth/login", json=body, headers=from_ip("2001:db8:1:2::99"))
        other_network = await client.post("/auth/login", json=body, headers=from_ip("2001:db8:1:3::1"))
        ipv4 = await client.post("/auth/login", json=body, headers=from_ip("192.0.2.7"))
        assert same_network.status_code == 429
        assert other_network.status_code == 401 and ipv4.status_code == 401


async def test_the_issue_limits_are_the_defaults(start_auth: Callable[..., Any]) -> None:
    async with start_auth(signup_limit="3/10", login_limit="3/10", mail_limit="3/60") as auth:
        client = auth.client()
        logins = [await auth.log_in(client, "x@example.com", "whatever it is") for _ in range(4)]
        assert [r.status_code for r in logins] == [401, 401, 401, 429]
        assert 9 <= int(logins[-1].headers["retry-after"]) <= 10
        resets = [
            await client.post("/auth/password-reset/request", json={"email": "x@example.com"})
            for _ in range(4)
        ]
        assert [r.status_code for r in resets] == [202, 202, 202, 429]
        assert 59 <= int(resets[-1].headers["retry-after"]) <= 60


async def test_mails_to_one_address_are_limited_whatever_the_client(start_auth: Callable[..., Any]) -> None:
    async with start_auth(mail_limit="2/60") as auth:
        client = auth.client()
        sent = [
            await client.post(
                "/auth/verify-email/request", json={"email": "ada@example.com"}, headers=from_ip(ip)
            )
            for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3")
        ]
        assert [r.status_code for r in sent] == [202, 202, 429]


async def test_ten_failed_logins_lock_the_account_for_a_while(start_auth: Callable[..., Any]) -> None:
    async with start_auth(login_lock_threshold=10, login_lock_s=2) as auth:
        client, _ = await auth.account("ada@example.com")
        failures = [await auth.log_in(client, "ada@example.com", f"wrong password {i}") for i in range(10)]
        assert {r.status_code for r in failures} == {401}
        locked = await auth.log_in(client, "ada@example.com")  # even the right password
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 2
        assert "account" in locked.json()["detail"]
        await asyncio.sleep(int(locked.headers["retry-after"]) + 0.1)
        assert (await auth.log_in(client, "ada@example.com")).status_code == 200


async def test_unknown_addresses_lock_like_real_ones(start_auth: Callable[..., Any]) -> None:
    async with start_auth(login_lock_threshold=3, login_lock_s=60) as auth:
        client = auth.client()
        for _ in range(3):
            await auth.log_in(client, "nobody@example.com", "wrong password")
        assert (await auth.log_in(client, "nobody@example.com", "wrong password")).status_code == 429


async def test_a_password_reset_lifts_the_lock(start_auth: Callable[..., Any]) -> None:
    async with start_auth(login_lock_threshold=2, login_lock_s=600) as auth:
        harness: AuthHarness = auth
        client, _ = await harness.account("ada@example.com")
        for _ in range(2):
            await harness.log_in(client, "ada@example.com", "wrong password")
        assert (await harness.log_in(client, "ada@example.com")).status_code == 429
        await client.post("/auth/password-reset/request", json={"email": "ada@example.com"})
        token = await harness.link_token("ada@example.com", "/reset-password")
        body = {"token": token, "new_password": "a brand new passphrase"}
        assert (await client.post("/auth/password-reset/confirm", json=body)).status_code == 204
        assert (await harness.log_in(client, "ada@example.com", "a brand new passphrase")).status_code == 200
