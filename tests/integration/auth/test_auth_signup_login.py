"""Sign-up and login: the happy paths, the refusals, and what neither reveals about other accounts."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
from auth_harness import PASSWORD, AuthHarness

from codex_contracts import decode_envelope


def full_width(text: str) -> str:
    """The full-width forms of ASCII letters and digits (U+FF01 onwards), which NFKC folds back."""
    return "".join(chr(ord(ch) + 0xFEE0) for ch in text)


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_sign_up_creates_an_account_mails_a_link_and_records_the_event(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    response = await auth.sign_up(client, "  Ada@Example.COM ", name="Ada Lovelace")
    assert response.status_code == 202
    assert response.json() == {"detail": "Check your inbox: we sent a mail to this address."}

    [mail] = await auth.mails("ada@example.com")
    assert mail["Subject"] == "Confirm your email address"
    assert await auth.link_token("ada@example.com", "/verify-email")
    # Nobody has shown that they own the address yet: the account is not announced.
    assert await auth.sql("SELECT 1 FROM outbox") == []

    await auth.confirm_address(client, "ada@example.com")
    [row] = await auth.sql("SELECT event_type, body, sent_at FROM outbox")
    envelope = decode_envelope(row["body"])
    assert envelope.type == "auth.user.registered.v1" and envelope.source == "auth"
    assert envelope.data.email == "ada@example.com"  # type: ignore[attr-defined]
    assert envelope.data.display_name == "Ada Lovelace"  # type: ignore[attr-defined]
    assert envelope.data.role == "customer"  # type: ignore[attr-defined]
    # Nothing secret travels on the bus: no password, no hash, no token.
    assert PASSWORD not in row["body"].decode() and "argon2" not in row["body"].decode()

    login = await auth.log_in(client, "ADA@example.com")
    assert login.status_code == 200


async def test_an_existing_address_gets_the_same_answer_and_its_owner_a_warning(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    first = await auth.sign_up_confirmed(client, "ada@example.com")
    second = await auth.sign_up(client, "ada@example.com", password="another password", name="Mallory")
    assert (second.status_code, second.json()) == (first.status_code, first.json())

    mails = await auth.mails("ada@example.com")
    assert [m["Subject"] for m in mails] == [
        "Confirm your email address",
        "Someone tried to sign up with your address",
    ]
    assert len(await auth.sql("SELECT 1 FROM outbox")) == 1  # one account, one event
    assert (await auth.log_in(client, "ada@example.com", "another password")).status_code == 401
    assert (await auth.log_in(client, "ada@example.com")).status_code == 200


async def test_passwords_are_8_to_128_characters_after_nfkc(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    for password in ["short", "x" * 129, full_width("pass")]:  # 4 characters after NFKC
        response = await auth.sign_up(client, "bob@example.com", password=password)
        assert response.status_code == 400
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["errors"][0]["field"] == "password"
    # Full-width letters are the same password as their ASCII forms.
    await auth.sign_up_confirmed(client, "bob@example.com", password=full_width("password1"))
    assert (await auth.log_in(client, "bob@example.com", "password1")).status_code == 200


async def test_malformed_sign_ups_are_refused_with_the_field(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    bad_email = await auth.sign_up(client, "not-an-address")
    assert bad_email.status_code == 400 and bad_email.json()["errors"][0]["field"] == "email"
    bad_name = await auth.sign_up(client, "eve@example.com", name="   ")
    assert bad_name.status_code == 400 and bad_name.json()["errors"][0]["field"] == "display_name"
    extra = await client.post("/auth/signup", json={"email": "e@example.com", "password": PASSWORD})
    assert extra.status_code == 400
    assert await auth.sql("SELECT 1 FROM users") == []


async def test_login_sets_a_session_cookie_and_returns_an_access_token(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    await auth.sign_up_confirmed(client, "ada@example.com")
    response = await auth.log_in(client, "ada@example.com")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900

    cookie = response.headers["set-cookie"]
    assert cookie.startswith("codex_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower() and "secure" not in attributes  # development: plain HTTP
    session_token = client.cookies["codex_session"]
    # Stored hashed: the token itself is nowhere in the database.
    [row] = await auth.sql("SELECT token_hash FROM sessions")
    assert row["token_hash"] != session_token.encode() and len(row["token_hash"]) == 32

    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["kid"] in (await client.get("/.well-known/jwks.json")).text
    claims = claims_of(body["access_token"])
    [user] = await auth.sql("SELECT id FROM users")
    [session] = await auth.sql("SELECT id FROM sessions")
    assert claims["iss"] == "urn:codex:auth" and claims["aud"] == "codex"
    assert claims["sub"] == str(user["id"]) and claims["sid"] == str(session["id"])
    assert claims["role"] == "customer"
    assert claims["exp"] - claims["iat"] == 900  # type: ignore[operator]

    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com" and me.json()["email_verified"] is True


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    auth: AuthHarness, client: httpx.AsyncClient
) -> None:
    await auth.sign_up(client, "ada@example.com")
    wrong = await auth.log_in(client, "ada@example.com", "not the password")
    unknown = await auth.log_in(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda p: {k: v for k, v in p.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_production_cookies_are_secure_and_host_only(start_auth, client: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    async with start_auth(environment="test") as auth, auth.client() as http:
        await auth.sign_up_confirmed(http, "ada@example.com")
        response = await auth.log_in(http, "ada@example.com")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-codex_session=")
        assert "secure" in cookie.lower() and "domain" not in cookie.lower()


async def test_login_rehashes_a_password_hashed_with_old_parameters(start_auth) -> None:  # type: ignore[no-untyped-def]
    async with start_auth() as auth, auth.client() as http:
        await auth.sign_up_confirmed(http, "ada@example.com")
        [before] = await auth.sql("SELECT password_hash FROM users")
    assert "m=1024,t=1,p=1" in before["password_hash"]
    async with start_auth(argon2_time_cost=2, argon2_memory_kib=2048) as auth, auth.client() as http:
        assert (await auth.log_in(http, "ada@example.com")).status_code == 200
        [after] = await auth.sql("SELECT password_hash FROM users")
        assert after["password_hash"].startswith("$argon2id$") and "m=2048,t=2,p=1" in after["password_hash"]
        # The new hash still opens with the same password.
        assert (await auth.log_in(http, "ada@example.com")).status_code == 200


async def test_a_body_that_is_not_utf8_is_a_client_error(client: httpx.AsyncClient) -> None:
    body = b'{"email": "\xd4\xd7@example.com", "password": "whatever it is", "display_name": "X"}'
    response = await client.post("/auth/signup", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"] == "urn:codex:problem:malformed-body"
