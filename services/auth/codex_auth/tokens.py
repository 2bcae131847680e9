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
from typing import Any

import jwt

from codex_auth.keys import CurrentKey, PublishedKey
from codex_platform.http import Principal, TokenRejected

ALGORITHM = "EdDSA"
_MAX_TOKEN_LENGTH = 8192


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

    The same rules as codex_platform's JwtVerifier (which other services use through the JWKS URL):
    EdDSA only, whatever the header claims; a published kid; iss, aud, exp, sub, role and sid.
    """
    if len(token) > _MAX_TOKEN_LENGTH:
        raise TokenRejected("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed token") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("unsupported signing algorithm")
    published = keys.get(str(header.get("kid")))
    if published is None:
        raise TokenRejected("unknown signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=published.public_key(),
            algorithms=[ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=leeway_s,
            options={"require": ["exp", "iss", "aud", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token expired") from None
    except jwt.PyJWTError:
        raise TokenRejected("invalid token") from None
    sub, role, sid = claims.get("sub"), claims.get("role"), claims.get("sid")
    if not (isinstance(sub, str) and isinstance(role, str) and isinstance(sid, str)):
        raise TokenRejected("invalid claims")
    return Principal(user_id=sub, role=role, session_id=sid, claims=claims)
