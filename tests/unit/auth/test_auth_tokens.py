"""Access tokens: what auth signs and what its own verification refuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codex_auth.keys import CurrentKey, PublishedKey, generate_key
from codex_auth.tokens import digest, issue_access_token, new_secret, verify_access_token
from codex_platform.http import TokenRejected

ISSUER, AUDIENCE = "urn:codex:auth", "codex"
Keys = tuple[CurrentKey, dict[str, PublishedKey]]


@pytest.fixture
def keys() -> tuple[CurrentKey, dict[str, PublishedKey]]:
    new = generate_key()
    current = CurrentKey(new.kid, Ed25519PrivateKey.from_private_bytes(new.private_raw))
    return current, {new.kid: PublishedKey(new.kid, new.public_raw, datetime.now(UTC), None)}


def issue(current: CurrentKey, *, now: datetime | None = None, **overrides: object) -> str:
    kwargs: dict[str, object] = {
        "issuer": ISSUER, "audience": AUDIENCE, "user_id": uuid.uuid4(), "role": "creator",
        "session_id": uuid.uuid4(), "now": now or datetime.now(UTC), "ttl": timedelta(minutes=15),
    }  # fmt: skip
    kwargs.update(overrides)
    return issue_access_token(current, **kwargs)  # type: ignore[arg-type]


def test_a_token_round_trips(keys: Keys) -> None:
    current, published = keys
    user, session = uuid.uuid4(), uuid.uuid4()
    token = issue(current, user_id=user, session_id=session)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": current.kid, "typ": "JWT"}
    principal = verify_access_token(token, published, issuer=ISSUER, audience=AUDIENCE)
    assert (principal.user_id, principal.role, principal.session_id) == (str(user), "creator", str(session))
    assert principal.claims["exp"] - principal.claims["iat"] == 900


def test_expired_tokens_are_refused(keys: Keys) -> None:
    current, published = keys
    token = issue(current, now=datetime.now(UTC) - timedelta(minutes=16))
    with pytest.raises(TokenRejected, match="expired"):
        verify_access_token(token, published, issuer=ISSUER, audience=AUDIENCE, leeway_s=0)


def test_foreign_issuers_audiences_and_keys_are_refused(
    keys: tuple[CurrentKey, dict[str, PublishedKey]],
) -> None:
    current, published = keys
    for token in (issue(current, issuer="someone-else"), issue(current, audience="other")):
        with pytest.raises(TokenRejected):
            verify_access_token(token, published, issuer=ISSUER, audience=AUDIENCE)
    stranger = generate_key()
    forged = issue(CurrentKey(current.kid, Ed25519PrivateKey.from_private_bytes(stranger.private_raw)))
    with pytest.raises(TokenRejected):
        verify_access_token(forged, published, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(TokenRejected, match="unknown signing key"):
        verify_access_token(issue(current), {}, issuer=ISSUER, audience=AUDIENCE)


def test_the_algorithm_is_pinned(keys: Keys) -> None:
    current, published = keys
    public_bytes = published[current.kid].public_raw
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "role": "admin", "sid": "s", "exp": 2**31}
    # The classic confusion: an HMAC token keyed with the (public) verification key.
    hs256 = jwt.encode(claims, public_bytes, algorithm="HS256", headers={"kid": current.kid})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": current.kid})
    for token in (hs256, unsigned, "garbage", "x" * 9000):
        with pytest.raises(TokenRejected):
            verify_access_token(token, published, issuer=ISSUER, audience=AUDIENCE)


def test_opaque_secrets_are_random_and_stored_as_digests() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(len(s) == 43 for s in secrets)  # 256 bits, base64url
    secret = secrets.pop()
    assert digest(secret) == digest(secret) and len(digest(secret)) == 32
