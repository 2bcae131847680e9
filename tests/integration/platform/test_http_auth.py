"""JWT bearer auth end to end: a real JWKS server (hits counted), create_app, guards and roles."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from litestar import Litestar, Request, get
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

from codex_platform.http import (
    CurrentPrincipal,
    JwtVerifier,
    Principal,
    create_app,
    require_role,
    require_roles,
    requires_auth,
)

ISSUER = "http://auth.codex.test"
AUDIENCE = "codex"


@dataclass
class SigningKey:
    kid: str
    private: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "EdDSA"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, *, kid: str | None = None, **claims: Any) -> str:
        return jwt.encode(
            valid_claims(**claims), self.private, algorithm="EdDSA", headers={"kid": kid or self.kid}
        )


def valid_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "user-1",
        "role": "customer",
        "sid": "session-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand, as an attacker would, bypassing PyJWT's own guard rails."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


class JwksServer:
    """A real HTTP server publishing a JWKS, counting how often it is fetched."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.hits = 0
        self.status = 200
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.hits += 1
                    body = json.dumps({"keys": [key.jwk for key in server.keys]}).encode()
                    status = server.status
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@get("/me", operation_id="getMe")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"user_id": principal.user_id, "role": principal.role, "session_id": principal.session_id}


@get("/whoami", operation_id="whoAmI", guards=[requires_auth])
async def who_am_i(request: Request[Principal, Any, Any]) -> dict[str, str]:
    return {"user_id": request.user.user_id}


@get("/admin/stats", operation_id="adminStats", guards=[require_role("admin")])
async def admin_stats() -> dict[str, int]:
    return {"users": 1}


@get("/studio", operation_id="studio", guards=[require_roles("creator", "admin")])
async def studio() -> dict[str, str]:
    return {"ok": "yes"}


@get("/public", operation_id="public")
async def public() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
def current_key() -> SigningKey:
    return SigningKey(kid="key-2024-01")


@pytest.fixture
def jwks_server(current_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer() as server:
        server.keys = [current_key]
        yield server


@pytest.fixture
async def client(jwks_server: JwksServer) -> AsyncIterator[AsyncTestClient[Litestar]]:
    verifier = JwtVerifier(jwks_server.url, ISSUER, AUDIENCE, min_refetch_interval_s=60)
    app = create_app(
        service="authtest",
        route_handlers=[me, who_am_i, admin_stats, studio, public],
        jwt=verifier,
        metrics_registry=CollectorRegistry(),
    )
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def assert_invalid_token(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["status"] == 401


async def test_valid_token_gives_the_principal(
    client: AsyncTestClient[Litestar], current_key: SigningKey
) -> None:
    token = current_key.sign()
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"user_id": "user-1", "role": "customer", "session_id": "session-1"}
    via_guard = await client.get("/whoami", headers=bearer(token))
    assert via_guard.json() == {"user_id": "user-1"}


async def test_public_route_needs_no_token(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/public")).status_code == 200


@pytest.mark.parametrize("path", ["/me", "/whoami", "/admin/stats"])
async def test_missing_token_is_401_with_challenge(client: AsyncTestClient[Litestar], path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_non_bearer_scheme_is_401(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    response = await client.get("/me", headers={"authorization": f"Basic {current_key.sign()}"})
    assert response.status_code == 401


async def test_expired_token_is_rejected(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    token = current_key.sign(exp=int(time.time()) - 120)
    response = await client.get("/me", headers=bearer(token))
    assert_invalid_token(response)
    assert "expired" in response.json()["detail"]


async def test_token_signed_by_another_key_is_rejected(
    client: AsyncTestClient[Litestar], current_key: SigningKey
) -> None:
    impostor = SigningKey(kid=current_key.kid)
    assert_invalid_token(await client.get("/me", headers=bearer(impostor.sign())))


async def test_wrong_issuer_is_rejected(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    token = current_key.sign(iss="http://evil.test")
    assert_invalid_token(await client.get("/me", headers=bearer(token)))


async def test_wrong_audience_is_rejected(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    token = current_key.sign(aud="another-platform")
    assert_invalid_token(await client.get("/me", headers=bearer(token)))


async def test_alg_none_is_rejected(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    token = forge({"alg": "none", "typ": "JWT", "kid": current_key.kid}, valid_claims(role="admin"), None)
    assert_invalid_token(await client.get("/admin/stats", headers=bearer(token)))


@pytest.mark.parametrize("secret_form", ["pem", "raw"])
async def test_hs256_signed_with_the_public_key_is_rejected(
    client: AsyncTestClient[Litestar], current_key: SigningKey, secret_form: str
) -> None:
    secret = (
        current_key.public_pem
        if secret_form == "pem"
        else current_key.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    )
    token = forge({"alg": "HS256", "typ": "JWT", "kid": current_key.kid}, valid_claims(role="admin"), secret)
    assert_invalid_token(await client.get("/admin/stats", headers=bearer(token)))


async def test_token_without_kid_is_rejected(
    client: AsyncTestClient[Litestar], current_key: SigningKey
) -> None:
    token = jwt.encode(valid_claims(), current_key.private, algorithm="EdDSA")
    assert_invalid_token(await client.get("/me", headers=bearer(token)))


async def test_tampered_token_is_rejected(client: AsyncTestClient[Litestar], current_key: SigningKey) -> None:
    header, _, signature = current_key.sign().split(".")
    elevated = b64url(json.dumps(valid_claims(role="admin")).encode())
    assert_invalid_token(await client.get("/admin/stats", headers=bearer(f"{header}.{elevated}.{signature}")))


async def test_garbage_token_is_rejected(client: AsyncTestClient[Litestar]) -> None:
    assert_invalid_token(await client.get("/me", headers=bearer("not-a-jwt")))


async def test_unknown_kid_refetches_once_then_accepts_the_rotated_key(
    client: AsyncTestClient[Litestar], jwks_server: JwksServer, current_key: SigningKey
) -> None:
    assert (await client.get("/me", headers=bearer(current_key.sign()))).status_code == 200
    assert jwks_server.hits == 1

    rotated = SigningKey(kid="key-2024-02")
    jwks_server.keys = [current_key, rotated]
    response = await client.get("/me", headers=bearer(rotated.sign(sub="user-2")))
    assert response.status_code == 200
    assert response.json()["user_id"] == "user-2"
    assert jwks_server.hits == 2

    assert (await client.get("/me", headers=bearer(rotated.sign()))).status_code == 200
    assert (await client.get("/me", headers=bearer(current_key.sign()))).status_code == 200
    assert jwks_server.hits == 2


async def test_a_flood_of_unknown_kids_fetches_the_jwks_once(
    client: AsyncTestClient[Litestar], jwks_server: JwksServer, current_key: SigningKey
) -> None:
    assert (await client.get("/me", headers=bearer(current_key.sign()))).status_code == 200
    bogus = [current_key.sign(kid=f"bogus-{n}") for n in range(30)]
    responses = await asyncio.gather(*(client.get("/me", headers=bearer(token)) for token in bogus))
    for response in responses:
        assert_invalid_token(response)
    assert jwks_server.hits == 2  # the initial load and one refetch, not one per bogus kid


async def test_role_guard_forbids_other_roles(
    client: AsyncTestClient[Litestar], current_key: SigningKey
) -> None:
    customer = await client.get("/admin/stats", headers=bearer(current_key.sign(role="customer")))
    assert customer.status_code == 403
    assert customer.headers["content-type"].startswith("application/problem+json")
    assert customer.json()["status"] == 403
    admin = await client.get("/admin/stats", headers=bearer(current_key.sign(role="admin")))
    assert admin.status_code == 200


async def test_any_of_several_roles_is_enough(
    client: AsyncTestClient[Litestar], current_key: SigningKey
) -> None:
    for role, status in (("creator", 200), ("admin", 200), ("customer", 403)):
        response = await client.get("/studio", headers=bearer(current_key.sign(role=role)))
        assert response.status_code == status, role


async def test_unreachable_jwks_is_503_not_401(
    client: AsyncTestClient[Litestar], jwks_server: JwksServer, current_key: SigningKey
) -> None:
    jwks_server.status = 503
    response = await client.get("/me", headers=bearer(current_key.sign()))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "retry-after" in response.headers


async def test_openapi_declares_the_bearer_scheme(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
