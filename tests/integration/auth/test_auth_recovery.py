"""Email verification, password reset and password change: single-use expiring tokens, no enumeration."""

from __future__ import annotations

import httpx
from auth_harness import PASSWORD, TRUSTED_ORIGIN, AuthHarness

NEW_PASSWORD = "a brand new passphrase"


async def test_the_mailed_link_verifies_the_address_once(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    await auth.sign_up(client, "ada@example.com")
    token = await auth.link_token("ada@example.com", "/verify-email")
    assert (await client.post("/auth/verify-email/confirm", json={"token": token})).status_code == 204
    login = await auth.log_in(client, "ada@example.com")
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["email_verified"] is True

    reused = await client.post("/auth/verify-email/confirm", json={"token": token})
    assert reused.status_code == 400
    assert reused.json()["type"] == "urn:codex:problem:invalid-token"
    # Only a digest of the token is stored.
    [row] = await auth.sql("SELECT token_hash FROM one_time_tokens")
    assert token.encode() not in bytes(row["token_hash"])


async def test_an_expired_verification_link_is_refused(auth: AuthHarness, client: httpx.AsyncClient) -> None:
    await auth.sign_up(client, "ada@example.com")
    token = await auth.link_token("ada@example.com", "/verify-email")
    [row] = await auth.sql("SELECT expires_at - created_at AS ttl FROM one_time_tokens")
    assert row["ttl"].total_seconds() == 3600
    await auth.sql("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
    response = await client.post("/auth/verify-email/confirm", json={"token": token})
    assert response.status_code == 400
    unknown = await client.post("/auth/verify-email/confirm", json={"token": "made-up"})
    assert (unknown.status_code, unknown.json()["detail"]) == (400, response.json()["detail"])


async def test_verification_requests_answer_202_whatever_the_address(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    await auth.sign_up(client, "ada@example.com")
    first_token = await auth.link_token("ada@example.com", "/verify-email")
    answers = [
        await client.post("/auth/verify-email/request", json={"email": address})
        for address in ("ada@example.com", "nobody@example.com", "not an address")
    ]
    assert {(a.status_code, a.json()["detail"]) for a in answers} == {
        (202, "If an account uses this address, a mail is on its way.")
    }
    assert await auth.mails("nobody@example.com") == []
    assert len(await auth.mails("ada@example.com")) == 2
    # A new link replaces the old one.
    assert (await client.post("/auth/verify-email/confirm", json={"token": first_token})).status_code == 400
    newest = await auth.link_token("ada@example.com", "/verify-email")
    assert (await client.post("/auth/verify-email/confirm", json={"token": newest})).status_code == 204
    # A verified address gets no more links.
    await client.post("/auth/verify-email/request", json={"email": "ada@example.com"})
    assert len(await auth.mails("ada@example.com")) == 2


async def test_a_password_reset_ends_every_session(auth: AuthHarness) -> None:
    laptop, token = await auth.account("ada@example.com")
    phone = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    await auth.log_in(phone, "ada@example.com")
    async with auth.client(headers={"Origin": TRUSTED_ORIGIN}) as stranger:
        assert (
            await stranger.post("/auth/password-reset/request", json={"email": "ADA@example.com"})
        ).status_code == 202
        assert (
            await stranger.post("/auth/password-reset/request", json={"email": "x@example.com"})
        ).status_code == 202
        reset_token = await auth.link_token("ada@example.com", "/reset-password")
        body = {"token": reset_token, "new_password": NEW_PASSWORD}
        assert (await stranger.post("/auth/password-reset/confirm", json=body)).status_code == 204
        reused = await stranger.post("/auth/password-reset/confirm", json=body)
        assert reused.status_code == 400

    assert await auth.mails("x@example.com") == []
    assert (await laptop.get("/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await laptop.post("/auth/refresh")).status_code == 401
    assert (await phone.post("/auth/refresh")).status_code == 401
    assert (await auth.log_in(phone, "ada@example.com", PASSWORD)).status_code == 401
    assert (await auth.log_in(phone, "ada@example.com", NEW_PASSWORD)).status_code == 200


async def test_an_expired_reset_link_is_refused(auth: AuthHarness, client: httpx.AsyncClient) -> None:
    await auth.sign_up_confirmed(client, "ada@example.com")
    await client.post("/auth/password-reset/request", json={"email": "ada@example.com"})
    token = await auth.link_token("ada@example.com", "/reset-password")
    await auth.sql("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
    response = await client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert (await auth.log_in(client, "ada@example.com")).status_code == 200  # the password is unchanged


async def test_a_reset_keeps_the_password_rules(auth: AuthHarness, client: httpx.AsyncClient) -> None:
    await auth.sign_up(client, "ada@example.com")
    await client.post("/auth/password-reset/request", json={"email": "ada@example.com"})
    token = await auth.link_token("ada@example.com", "/reset-password")
    short = await client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert (
        short.status_code == 400 and short.json()["errors"][0]["field"] == "new_password"
    )  # the field as sent
    ok = await client.post(
        "/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert ok.status_code == 204  # a refused password did not use the token up


async def test_changing_the_password_ends_the_other_sessions(auth: AuthHarness) -> None:
    laptop, token = await auth.account("ada@example.com")
    phone = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    await auth.log_in(phone, "ada@example.com")
    headers = {"Authorization": f"Bearer {token}"}

    wrong = await laptop.post(
        "/auth/password/change",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 400 and wrong.json()["type"] == "urn:codex:problem:wrong-password"

    changed = await laptop.post(
        "/auth/password/change",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200 and changed.json() == {"revoked": 1}
    assert (await laptop.get("/auth/me", headers=headers)).status_code == 200
    assert (await phone.post("/auth/refresh")).status_code == 401
    assert (await auth.log_in(phone, "ada@example.com", NEW_PASSWORD)).status_code == 200
