"""Access tokens outside auth: another service, configured with nothing but auth's JWKS URL, verifies
them with the platform's guard; key rotation keeps old tokens valid for their grace period only."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from auth_harness import AuthHarness
from litestar import get

from codex_platform.http import CurrentPrincipal, JwtVerifier, create_app, require_role
from codex_platform.testing import serve


@get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
    return {"user_id": principal.user_id, "role": principal.role}


@get("/studio", guards=[require_role("creator")])
async def studio() -> dict[str, str]:
    return {"welcome": "creator"}


@asynccontextmanager
async def other_service(auth: AuthHarness) -> AsyncIterator[httpx.AsyncClient]:
    """A separate app that knows auth only by its JWKS URL (and the issuer and audience to expect)."""
    verifier = JwtVerifier(
        f"{auth.url}/.well-known/jwks.json",
        issuer="urn:codex:auth",
        audience="codex",
        cache_ttl_s=0.2,
        min_refetch_interval_s=0,
    )
    app = create_app(service="elsewhere", route_handlers=[whoami, studio], jwt=verifier)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tampered(token: str) -> str:
    """The same token claiming the admin role, its signature left as it was."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_token_from_auth_is_accepted_by_the_platform_guard(auth: AuthHarness) -> None:
    client, token = await auth.account("ada@example.com")
    user_id = (await client.get("/auth/me")).json()["id"]
    async with other_service(auth) as elsewhere:
        response = await elsewhere.get("/whoami", headers=bearer(token))
        assert response.status_code == 200
        assert response.json() == {"user_id": user_id, "role": "customer"}
        assert (await elsewhere.get("/studio", headers=bearer(token))).status_code == 403


async def test_a_tampered_token_is_refused(auth: AuthHarness) -> None:
    _, token = await auth.account("ada@example.com")
    flipped_signature = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    async with other_service(auth) as elsewhere:
        for forged in (tampered(token), flipped_signature, token + "x"):
            response = await elsewhere.get("/whoami", headers=bearer(forged))
            assert response.status_code == 401
    async with auth.client() as client:
        assert (await client.get("/auth/me", headers=bearer(tampered(token)))).status_code == 401


async def test_a_rotated_out_key_verifies_until_its_grace_period_ends(start_auth: Callable[..., Any]) -> None:
    async with start_auth(key_cache_ttl_s=1) as auth, other_service(auth) as elsewhere:
        client, old_token = await auth.account("ada@example.com")
        old_kid = json.loads(base64.urlsafe_b64decode(old_token.split(".")[0] + "=="))["kid"]

        new_kid = await auth.deps.keys.rotate()  # what `python -m codex_auth.cli rotate-keys` does
        # Published at once, signing only once every replica and verifier has read it (2 x cache).
        assert new_kid in (await client.get("/.well-known/jwks.json")).text
        still_old = (await client.post("/auth/refresh")).json()["access_token"]
        assert json.loads(base64.urlsafe_b64decode(still_old.split(".")[0] + "=="))["kid"] == old_kid
        await asyncio.sleep(auth.deps.keys.lead.total_seconds())
        new_token = (await client.post("/auth/refresh")).json()["access_token"]
        assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == new_kid
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_kid]  # current, then previous
        assert "d" not in jwks["keys"][0]  # public halves only

        # Within the grace period both verify, elsewhere and here.
        for token in (old_token, new_token):
            assert (await elsewhere.get("/whoami", headers=bearer(token))).status_code == 200
            assert (await client.get("/auth/me", headers=bearer(token))).status_code == 200

        # The grace period (token life + key cache + leeway) has passed for the old key.
        grace = auth.deps.keys.grace
        assert grace == timedelta(seconds=900 + 1 + 30)
        await auth.sql(
            "UPDATE signing_keys SET retired_at = now() - $1::interval - interval '1 second' WHERE kid = $2",
            grace,
            old_kid,
        )
        await auth.deps.keys.rotate()  # any later rotation also prunes it; either way it is gone
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert old_kid not in [key["kid"] for key in jwks["keys"]]
        await asyncio.sleep(0.3)  # the other service's copy of the JWKS expires (cache_ttl_s=0.2)
        refused = await elsewhere.get("/whoami", headers=bearer(old_token))
        assert refused.status_code == 401
        assert "unknown signing key" in refused.json()["detail"]
        assert (await client.get("/auth/me", headers=bearer(old_token))).status_code == 401
        assert (await elsewhere.get("/whoami", headers=bearer(new_token))).status_code == 200
