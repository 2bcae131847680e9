"""The credentials auth hands out: opaque secrets (session cookies, mailed links) and access tokens.

Opaque tokens carry 256 random bits, so a plain SHA-256 is enough to store them: unlike a password
there is nothing to guess, and a fast hash keeps every authenticated request one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import jwt

from codex_auth.keys import CurrentKey, PublishedKey
from codex_platform.http import Principal, verify_with_keys

ALGORITHM = "EdDSA"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue_access_token(
    key: CurrentKey,
    *,
    issuer: str,
    audience: str,
    user_id: uuid.UUID,
    role: str,
    session_id: uuid.UUID,
    now: datetime,
    ttl: timedelta,
) -> str:
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "role": role,
        "sid": str(session_id),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})


def verify_access_token(
    token: str, keys: Mapping[str, PublishedKey], *, issuer: str, audience: str, leeway_s: float = 30
) -> Principal:
    """Verify one of our own access tokens against the keys the JWKS publishes right now.

    The rules are codex_platform's JwtVerifier's (other services use it through the JWKS URL); auth's
    own tokens must also name their session (sid), which auth checks is still active.
    """
    return verify_with_keys(
        token,
        {kid: key.public_key() for kid, key in keys.items()},
        issuer=issuer,
        audience=audience,
        leeway_s=leeway_s,
        require_session=True,
    )
