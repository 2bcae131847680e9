"""JwtVerifier and JwksCache without a network: JWKS parsing, early rejections, caching, backoff."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from codex_platform.http import JwksUnavailable, JwtVerifier, TokenRejected, verify_with_keys
from codex_platform.http.jwks import JwksCache, parse_jwks

JWKS_URL = "http://auth.test/.well-known/jwks.json"
ISSUER = "http://auth.test"
AUDIENCE = "codex"


def ed25519_jwk(private: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return {**public, "kid": kid}


def sign(private: Ed25519PrivateKey, kid: str | None = "k1", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "u1", "role": "customer", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    claims.update(overrides)
    headers = {"kid": kid} if kid else None
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, private, algorithm="EdDSA", headers=headers
    )


class FakeJwksEndpoint:
    """An httpx transport answering with a JWKS (or an error) and counting calls."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.calls = 0
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(self.status, json={"keys": self.keys})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def endpoint(private_key: Ed25519PrivateKey) -> FakeJwksEndpoint:
    return FakeJwksEndpoint([ed25519_jwk(private_key, "k1")])


@pytest.fixture
def verifier(endpoint: FakeJwksEndpoint) -> JwtVerifier:
    return JwtVerifier(JWKS_URL, ISSUER, AUDIENCE, leeway_s=30, http_client=endpoint.client())


def test_parse_jwks_keeps_only_public_ed25519_keys_with_kid(private_key: Ed25519PrivateKey) -> None:
    rsa_public = RSAAlgorithm.to_jwk(generate_private_key(65537, 2048).public_key(), as_dict=True)
    private_jwk = OKPAlgorithm.to_jwk(private_key, as_dict=True)
    public_without_kid = OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    document = {
        "keys": [
            ed25519_jwk(private_key, "good"),
            {**rsa_public, "kid": "rsa"},
            {**private_jwk, "kid": "leaked-private"},
            public_without_kid,
            {"kty": "OKP", "crv": "Ed25519", "kid": "broken", "x": "!!"},
            "not a key",
        ]
    }
    assert list(parse_jwks(document)) == ["good"]


@pytest.mark.parametrize("document", [{}, {"keys": "nope"}, [], "text"])
def test_parse_jwks_refuses_documents_without_keys(document: Any) -> None:
    with pytest.raises(ValueError, match="keys"):
        parse_jwks(document)


async def test_valid_token_yields_principal(verifier: JwtVerifier, private_key: Ed25519PrivateKey) -> None:
    principal = await verifier.verify(sign(private_key, sid="s1", plan="pro"))
    assert (principal.user_id, principal.role, principal.session_id) == ("u1", "customer", "s1")
    assert principal.claims["plan"] == "pro"


async def test_token_without_sid_has_no_session(
    verifier: JwtVerifier, private_key: Ed25519PrivateKey
) -> None:
    assert (await verifier.verify(sign(private_key))).session_id is None


async def test_leeway_tolerates_small_clock_skew(
    verifier: JwtVerifier, private_key: Ed25519PrivateKey
) -> None:
    token = sign(private_key, exp=int(time.time()) - 10)
    assert (await verifier.verify(token)).user_id == "u1"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"role": None}, "missing claim: role"),
        ({"sub": None}, "missing claim: sub"),
        ({"exp": None}, "missing claim: exp"),
        ({"sid": 42}, "invalid session id"),
        ({"iss": "http://other"}, "wrong issuer"),
        ({"aud": "other"}, "wrong audience"),
    ],
)
async def test_claims_are_checked(
    verifier: JwtVerifier, private_key: Ed25519PrivateKey, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenRejected) as rejected:
        await verifier.verify(sign(private_key, **claims))
    assert rejected.value.reason == reason


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.eyJzdWIiOiJ1MSJ9.",  # alg none
        jwt.encode(
            {"sub": "u1"}, "secret-of-32-bytes-at-the-least!", algorithm="HS256", headers={"kid": "k1"}
        ),
        "not.a.jwt",
        "x" * 10_000,
    ],
)
async def test_bad_tokens_are_rejected_before_any_jwks_fetch(
    verifier: JwtVerifier, endpoint: FakeJwksEndpoint, token: str
) -> None:
    with pytest.raises(TokenRejected):
        await verifier.verify(token)
    assert endpoint.calls == 0


async def test_token_without_kid_is_rejected(
    verifier: JwtVerifier, endpoint: FakeJwksEndpoint, private_key: Ed25519PrivateKey
) -> None:
    with pytest.raises(TokenRejected, match="key id"):
        await verifier.verify(sign(private_key, kid=None))
    assert endpoint.calls == 0


async def test_unavailable_jwks_raises_then_backs_off(
    verifier: JwtVerifier, endpoint: FakeJwksEndpoint, private_key: Ed25519PrivateKey
) -> None:
    endpoint.status = 500
    for _ in range(3):
        with pytest.raises(JwksUnavailable):
            await verifier.verify(sign(private_key))
    assert endpoint.calls == 1


async def test_keys_are_refreshed_after_the_ttl(endpoint: FakeJwksEndpoint) -> None:
    clock = FakeClock()
    cache = JwksCache(JWKS_URL, http_client=endpoint.client(), cache_ttl_s=300, clock=clock)
    assert await cache.key("k1") is not None
    clock.now += 299
    assert await cache.key("k1") is not None
    assert endpoint.calls == 1
    clock.now += 2
    assert await cache.key("k1") is not None
    assert endpoint.calls == 2


async def test_stale_keys_are_kept_when_a_refresh_fails(endpoint: FakeJwksEndpoint) -> None:
    clock = FakeClock()
    cache = JwksCache(JWKS_URL, http_client=endpoint.client(), cache_ttl_s=300, clock=clock)
    assert await cache.key("k1") is not None
    endpoint.status = 503
    clock.now += 301
    assert await cache.key("k1") is not None
    assert await cache.key("k1") is not None
    assert endpoint.calls == 2  # one failed refresh, then a pause before the next attempt


async def test_unknown_kid_refetch_is_rate_limited(endpoint: FakeJwksEndpoint) -> None:
    clock = FakeClock()
    cache = JwksCache(
        JWKS_URL, http_client=endpoint.client(), min_refetch_interval_s=30, cache_ttl_s=3600, clock=clock
    )
    assert await cache.key("k1") is not None
    assert await cache.key("bogus-1") is None
    assert await cache.key("bogus-2") is None
    assert endpoint.calls == 2
    clock.now += 31
    assert await cache.key("bogus-3") is None
    assert endpoint.calls == 3


async def test_verifier_closes_only_the_client_it_created(endpoint: FakeJwksEndpoint) -> None:
    shared = endpoint.client()
    await JwtVerifier(JWKS_URL, ISSUER, AUDIENCE, http_client=shared).aclose()
    assert not shared.is_closed
    own = JwtVerifier(JWKS_URL, ISSUER, AUDIENCE)
    await own.aclose()
    assert own._http.is_closed


def test_keys_at_hand_are_checked_by_the_same_rules(private_key: Ed25519PrivateKey) -> None:
    # The auth service verifies its own tokens with the keys of its key ring, not through a JWKS URL.
    as_jwk = jwt.PyJWK(ed25519_jwk(private_key, "k1"), algorithm="EdDSA")
    for keys in ({"k1": private_key.public_key()}, {"k1": as_jwk}):
        principal = verify_with_keys(sign(private_key, sid="s1"), keys, issuer=ISSUER, audience=AUDIENCE)
        assert (principal.user_id, principal.session_id) == ("u1", "s1")
        for token, reason in [
            (sign(private_key, kid="k2"), "unknown signing key"),
            (sign(private_key, aud="other"), "wrong audience"),
            (sign(Ed25519PrivateKey.generate()), "invalid signature"),
        ]:
            with pytest.raises(TokenRejected) as rejected:
                verify_with_keys(token, keys, issuer=ISSUER, audience=AUDIENCE)
            assert rejected.value.reason == reason


def test_keys_at_hand_can_require_a_session(private_key: Ed25519PrivateKey) -> None:
    keys = {"k1": private_key.public_key()}
    assert verify_with_keys(sign(private_key), keys, issuer=ISSUER, audience=AUDIENCE).session_id is None
    with pytest.raises(TokenRejected, match="missing claim: sid"):
        verify_with_keys(sign(private_key), keys, issuer=ISSUER, audience=AUDIENCE, require_session=True)
