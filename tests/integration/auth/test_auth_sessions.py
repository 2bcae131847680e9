"""Sessions: refresh, sliding expiry, listing, revoking, logging out, and the CSRF rule for cookies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from auth_harness import TRUSTED_ORIGIN, AuthHarness


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_refresh_gives_a_new_access_token_for_the_session(auth: AuthHarness) -> None:
    client, token = await auth.account("ada@example.com")
    response = await client.post("/auth/refresh")
    assert response.status_code == 200
    fresh = response.json()["access_token"]
    assert fresh != token
    assert (await client.get("/auth/me", headers=bearer(fresh))).status_code == 200
    assert response.headers["set-cookie"].startswith("codex_session=")  # the cookie goes on living


async def test_refresh_needs_the_cookie_not_a_token(auth: AuthHarness) -> None:
    _, token = await auth.account("ada@example.com")
    async with auth.client(headers={"Origin": TRUSTED_ORIGIN}) as stranger:
        refused = await stranger.post("/auth/refresh", headers=bearer(token))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


async def test_cookie_mutations_must_come_from_a_trusted_origin(auth: AuthHarness) -> None:
    client, _ = await auth.account("ada@example.com")
    cookies = {"codex_session": client.cookies["codex_session"]}
    async with auth.client(cookies=cookies) as browser:
        missing = await browser.post("/auth/refresh")
        foreign = await browser.post("/auth/refresh", headers={"Origin": "https://evil.example"})
        by_referer = await browser.post("/auth/refresh", headers={"Referer": f"{TRUSTED_ORIGIN}/account"})
        same_origin = await browser.post("/auth/refresh", headers={"Origin": auth.url})  # e.g. its /docs page
        reading = await browser.get("/auth/me")  # a read needs no Origin: it changes nothing
        logout = await browser.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert missing.status_code == 403 and foreign.status_code == 403
    assert by_referer.status_code == 200 and same_origin.status_code == 200
    assert reading.status_code == 200
    assert logout.status_code == 403
    assert (await client.get("/auth/me")).status_code == 200  # the forged logout ended nothing


async def test_logout_ends_the_session_for_cookie_and_token(auth: AuthHarness) -> None:
    client, token = await auth.account("ada@example.com")
    response = await client.post("/auth/logout")
    assert response.status_code == 204
    assert "max-age=0" in response.headers["set-cookie"].lower()
    old_cookie = {"codex_session": "placeholder"}
    [row] = await auth.sql("SELECT revoked_at FROM sessions")
    assert row["revoked_at"] is not None
    assert (await client.get("/auth/me", headers=bearer(token))).status_code == 401
    async with auth.client(headers={"Origin": TRUSTED_ORIGIN}, cookies=old_cookie) as again:
        assert (await again.post("/auth/logout")).status_code == 204  # signing out twice is fine


async def test_a_revoked_session_cannot_refresh(auth: AuthHarness) -> None:
    client, token = await auth.account("ada@example.com")
    session_cookie = client.cookies["codex_session"]
    await client.post("/auth/logout", headers=bearer(token))
    async with auth.client(
        headers={"Origin": TRUSTED_ORIGIN}, cookies={"codex_session": session_cookie}
    ) as c:
        refused = await c.post("/auth/refresh")
        me = await c.get("/auth/me")
    assert refused.status_code == 401 and me.status_code == 401
    assert refused.json()["detail"] == "Your session has ended; sign in again"


async def test_sessions_are_listed_and_revoked_one_by_one(auth: AuthHarness) -> None:
    laptop, laptop_token = await auth.account("ada@example.com")
    async with auth.client(headers={"Origin": TRUSTED_ORIGIN, "User-Agent": "phone/1.0"}) as phone:
        phone_token = (await auth.log_in(phone, "ada@example.com")).json()["access_token"]
        listed = (await laptop.get("/auth/sessions", headers=bearer(laptop_token))).json()["sessions"]
        assert len(listed) == 2
        [current] = [s for s in listed if s["current"]]
        [other] = [s for s in listed if not s["current"]]
        assert other["user_agent"] == "phone/1.0" and other["ip"] == "127.0.0.1"

        revoked = await laptop.delete(f"/auth/sessions/{other['id']}", headers=bearer(laptop_token))
        assert revoked.status_code == 204
        assert (await phone.get("/auth/me", headers=bearer(phone_token))).status_code == 401
        assert (await phone.post("/auth/refresh")).status_code == 401
        again = await laptop.delete(f"/auth/sessions/{other['id']}", headers=bearer(laptop_token))
        assert again.status_code == 404
        listed = (await laptop.get("/auth/sessions")).json()["sessions"]
        assert [s["id"] for s in listed] == [current["id"]]


async def test_nobody_revokes_someone_elses_session(auth: AuthHarness) -> None:
    ada, _ = await auth.account("ada@example.com")
    bob, bob_token = await auth.account("bob@example.com")
    [ada_session] = (await ada.get("/auth/sessions")).json()["sessions"]
    response = await bob.delete(f"/auth/sessions/{ada_session['id']}", headers=bearer(bob_token))
    assert response.status_code == 404
    assert (await ada.get("/auth/me")).status_code == 200


async def test_revoke_others_keeps_only_the_current_session(auth: AuthHarness) -> None:
    first, _ = await auth.account("ada@example.com")
    second = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    third = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    for other in (second, third):
        assert (await auth.log_in(other, "ada@example.com")).status_code == 200
    response = await second.post("/auth/sessions/revoke-others")
    assert response.json() == {"revoked": 2}
    assert (await second.get("/auth/me")).status_code == 200
    assert (await first.get("/auth/me")).status_code == 401
    assert (await third.get("/auth/me")).status_code == 401


async def test_a_session_used_after_a_day_is_extended_by_seven_days(auth: AuthHarness) -> None:
    client, _ = await auth.account("ada@example.com")
    now = datetime.now(UTC)
    # Two days have passed since the last extension; five are left.
    await auth.sql(
        "UPDATE sessions SET extended_at = $1, expires_at = $2",
        now - timedelta(days=2),
        now + timedelta(days=5),
    )
    response = await client.post("/auth/refresh")
    assert response.status_code == 200
    [row] = await auth.sql("SELECT extended_at, expires_at FROM sessions")
    assert abs(row["expires_at"] - (now + timedelta(days=7))) < timedelta(minutes=1)
    max_age = int(response.headers["set-cookie"].lower().split("max-age=")[1].split(";")[0])
    assert abs(max_age - 7 * 24 * 3600) < 60

    # Used again within the day: no write, no extension.
    await client.post("/auth/refresh")
    [unchanged] = await auth.sql("SELECT extended_at FROM sessions")
    assert unchanged["extended_at"] == row["extended_at"]


async def test_an_expired_session_is_refused(auth: AuthHarness) -> None:
    client, token = await auth.account("ada@example.com")
    await auth.sql("UPDATE sessions SET expires_at = now() - interval '1 second'")
    assert (await client.post("/auth/refresh")).status_code == 401
    assert (await client.get("/auth/me", headers=bearer(token))).status_code == 401


async def test_me_needs_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/auth/me", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await client.get("/auth/me", headers=bearer("not-a-jwt"))).status_code == 401
