"""Key rotation with several replicas: no valid token is refused while a new key comes in.

A new key is published at once and signs only once every replica (key ring cache) and every
verifier (the JWKS's max-age) has had time to read it; a replica that meets a kid it has not read
yet reads the ring once more instead of refusing the token."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
from litestar import get

from codex_platform.http import CurrentPrincipal, JwtVerifier, create_app
from codex_platform.testing import serve

# With KEY_CACHE_TTL_S=1, a new key signs 2 s after the rotation (bootstrap.key_lead).
LEAD_S = 2.0


@get("/whoami")
async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
    return {"user_id": principal.user_id}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kid_of(token: str) -> str:
    kid: str = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    return kid


async def test_tokens_verify_on_every_replica_and_elsewhere_throughout_a_rotation(
    start_auth: Callable[..., Any],
) -> None:
    async with start_auth(key_cache_ttl_s=1) as one, start_auth(key_cache_ttl_s=1) as two:
        client, token = await one.account("ada@example.com")
        other_replica = two.client()
        assert (await other_replica.get("/auth/me", headers=bearer(token))).status_code == 200
        # Another service that knows auth by the JWKS of replica two (as behind a load balancer).
        verifier = JwtVerifier(
            f"{two.url}/.well-known/jwks.json", issuer="urn:codex:auth", audience="codex", cache_ttl_s=1
        )
        elsewhere_app = create_app(service="elsewhere", route_handlers=[whoami], jwt=verifier)
        async with (
            serve(elsewhere_app) as elsewhere_url,
            httpx.AsyncClient(base_url=elsewhere_url) as elsewhere,
        ):
            assert (await elsewhere.get("/whoami", headers=bearer(token))).status_code == 200

            new_kid = await one.deps.keys.rotate()
            kids: set[str] = set()
            refused: list[tuple[str, int, int]] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + LEAD_S + 1.5
            while loop.time() < deadline:
                fresh = (await client.post("/auth/refresh")).json()["access_token"]
                kids.add(kid_of(fresh))
                here = await other_replica.get("/auth/me", headers=bearer(fresh))
                there = await elsewhere.get("/whoami", headers=bearer(fresh))
                if here.status_code != 200 or there.status_code != 200:
                    refused.append((kid_of(fresh), here.status_code, there.status_code))
                await asyncio.sleep(0.2)
        assert refused == []
        assert new_kid in kids  # the new key did take over within the run


async def test_a_replica_reads_the_ring_again_for_a_kid_it_does_not_know(
    start_auth: Callable[..., Any],
) -> None:
    # Replica two read the ring long ago and would keep it for five minutes.
    async with start_auth(key_cache_ttl_s=1) as one, start_auth(key_cache_ttl_s=300) as two:
        client, token = await one.account("ada@example.com")
        other_replica = two.client()
        assert (await other_replica.get("/auth/me", headers=bearer(token))).status_code == 200
        new_kid = await one.deps.keys.rotate()
        await asyncio.sleep(LEAD_S + 0.1)
        fresh = (await client.post("/auth/refresh")).json()["access_token"]
        assert kid_of(fresh) == new_kid
        assert (await other_replica.get("/auth/me", headers=bearer(fresh))).status_code == 200
        # An invented kid still fails, and costs no more than the one reload already done.
        header, payload, signature = fresh.split(".")
        forged = json.loads(base64.urlsafe_b64decode(header + "=="))
        forged["kid"] = "made-up"
        forged_header = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        made_up = f"{forged_header}.{payload}.{signature}"
        assert (await other_replica.get("/auth/me", headers=bearer(made_up))).status_code == 401
