"""What a public sign-up page meets: lock-outs by strangers, inbox floods, accounts made for
someone else's address, and timing that tells whether an account exists."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from auth_harness import PASSWORD, TRUSTED_ORIGIN, AuthHarness


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


async def test_failures_from_one_network_do_not_lock_the_owner_out_elsewhere(
    start_auth: Callable[..., Any],
) -> None:
    async with start_auth(login_lock_threshold=10, login_lock_s=600) as auth:
        owner, _ = await auth.account("root@example.com")
        attacker = auth.client(headers=from_ip("203.0.113.66"))
        for i in range(10):
            assert (await auth.log_in(attacker, "root@example.com", f"guess number {i}")).status_code == 401
        # The attacker's network is locked out, even with the right password...
        assert (await auth.log_in(attacker, "root@example.com")).status_code == 429
        # ...and the owner, from their own network, still gets in.
        elsewhere = auth.client(headers=from_ip("198.51.100.7"))
        assert (await auth.log_in(elsewhere, "root@example.com")).status_code == 200
        assert (await auth.log_in(owner, "root@example.com")).status_code == 200


async def test_sign_ups_cannot_flood_an_inbox(start_auth: Callable[..., Any]) -> None:
    async with start_auth(mail_limit="2/60") as auth:
        await auth.sign_up_confirmed(auth.client(), "victim@example.com")
        before = len(await auth.mails("victim@example.com"))
        answers = [
            await auth.sign_up(auth.client(headers=from_ip(f"192.0.2.{n}")), "victim@example.com")
            for n in range(1, 6)
        ]
        # The same answer every time (nothing tells the sender that the limit was reached)...
        assert {(r.status_code, r.json()["detail"]) for r in answers} == {
            (202, "Check your inbox: we sent a mail to this address.")
        }
        # ...and the victim gets what the limit allows, not one mail per attempt.
        assert len(await auth.mails("victim@example.com")) - before <= 1


async def test_login_needs_a_confirmed_address_and_tells_nothing_more(auth: AuthHarness) -> None:
    client = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    # Someone signs up with an address they do not own, with a password of their choosing.
    assert (await auth.sign_up(client, "victim@example.com", "the attacker's password")).status_code == 202
    refused = await auth.log_in(client, "victim@example.com", "the attacker's password")
    wrong = await auth.log_in(client, "someone@example.com", "the attacker's password")
    # The answer is a wrong password's: the sign-up did not reveal that the address was free.
    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["detail"] == wrong.json()["detail"]
    assert "set-cookie" not in refused.headers
    assert await auth.sql("SELECT 1 FROM sessions") == []
    assert await auth.sql("SELECT 1 FROM outbox") == []  # nothing announced for an unconfirmed address


async def test_the_owners_sign_up_takes_a_pending_account_over(auth: AuthHarness) -> None:
    attacker = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    owner = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    await auth.sign_up(attacker, "victim@example.com", "the attacker's password", name="Mallory")
    attackers_link = await auth.link_token("victim@example.com", "/verify-email")
    # The owner signs up later and confirms through the newest mail.
    await auth.sign_up_confirmed(owner, "victim@example.com", PASSWORD, name="Victoria")
    # The link mailed for the attacker's sign-up no longer works, nor does the attacker's password.
    stale = await attacker.post("/auth/verify-email/confirm", json={"token": attackers_link})
    assert stale.status_code == 400
    assert (await auth.log_in(attacker, "victim@example.com", "the attacker's password")).status_code == 401
    login = await auth.log_in(owner, "victim@example.com", PASSWORD)
    assert login.status_code == 200
    me = await owner.get("/auth/me")
    assert me.json()["display_name"] == "Victoria" and me.json()["email_verified"] is True


async def test_without_required_verification_the_owners_sign_up_still_ends_a_squatters_use(
    start_auth: Callable[..., Any],
) -> None:
    async with start_auth(require_email_verification=False) as auth:
        squatter = auth.client(headers={"Origin": TRUSTED_ORIGIN})
        squatters = "the squatter's password"
        await auth.sign_up(squatter, "victim@example.com", squatters)
        # `make dev` may allow this...
        assert (await auth.log_in(squatter, "victim@example.com", squatters)).status_code == 200
        assert len(await auth.sql("SELECT 1 FROM outbox")) == 1  # usable at once, so announced at once
        owner = auth.client(headers={"Origin": TRUSTED_ORIGIN})
        await auth.sign_up(owner, "victim@example.com")
        await auth.confirm_address(owner, "victim@example.com")
        # ...but once the owner signs up and confirms, whoever used the account before is out.
        assert (await squatter.get("/auth/me")).status_code == 401
        assert (await auth.log_in(squatter, "victim@example.com", squatters)).status_code == 401
        assert (await auth.log_in(owner, "victim@example.com")).status_code == 200


async def test_mail_requests_answer_before_touching_the_account(auth: AuthHarness) -> None:
    """The writes an existing account needs (its link's token) happen after the answer: with the
    account's row locked by another transaction, both requests still answer at once."""
    client, _ = await auth.account("ada@example.com")
    pending = auth.client()
    await auth.sign_up(pending, "bob@example.com")
    async with auth.deps.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM users FOR UPDATE")  # the token rows' foreign keys wait for it
        reset, verify = await asyncio.wait_for(
            asyncio.gather(
                client.post("/auth/password-reset/request", json={"email": "ada@example.com"}),
                client.post("/auth/verify-email/request", json={"email": "bob@example.com"}),
            ),
            timeout=3,
        )
    assert reset.status_code == verify.status_code == 202
    # Once the lock is gone, the mails go out all the same.
    assert await auth.link_token("ada@example.com", "/reset-password")
    assert len(await auth.mails("bob@example.com")) == 2


async def test_a_login_flood_is_turned_away_with_503_rather_than_queued(
    start_auth: Callable[..., Any],
) -> None:
    slow_hashes = {"argon2_time_cost": 2, "argon2_memory_kib": 32 * 1024}
    async with start_auth(hash_concurrency=1, hash_queue_limit=0, **slow_hashes) as auth:
        await auth.account("ada@example.com")
        answers = await asyncio.gather(
            *(auth.log_in(auth.client(), "ada@example.com", f"wrong guess {i}") for i in range(8))
        )
        statuses = [answer.status_code for answer in answers]
        assert 503 in statuses and set(statuses) <= {401, 503}, statuses
        busy = next(answer for answer in answers if answer.status_code == 503)
        assert busy.headers["retry-after"] == "1"
        assert busy.headers["content-type"] == "application/problem+json"
        # The queue was bounded, not the service: the right password still gets in.
        assert (await auth.log_in(auth.client(), "ada@example.com")).status_code == 200
