"""Local verification of the auth service's EdDSA (Ed25519) access tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import httpx
import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from codex_platform.http.jwks import JwksCache, JwksUnavailable

__all__ = [
    "JwksUnavailable",
    "JwtVerifier",
    "Principal",
    "TokenRejected",
    "VerificationKey",
    "verify_with_keys",
]

# The only algorithm the auth service signs with. Pinning it here, and not trusting the token's own
# header, is what defeats "alg": "none" and the HS256-with-the-public-key confusion attack.
_ALGORITHM = "EdDSA"
_MAX_TOKEN_LENGTH = 8192


class Principal(msgspec.Struct, frozen=True):
    """Who made the request, as the access token says."""

    user_id: str
    role: str
    session_id: str | None
    claims: dict[str, Any]


class TokenRejected(Exception):
    """The token is not acceptable. ``reason`` is safe to show the client (it never quotes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwtVerifier:
    """Verify access tokens against the JWKS published by the auth service.

    ``leeway_s`` tolerates clock skew on ``exp``/``nbf``/``iat``; ``cache_ttl_s`` is how long fetched
    keys are trusted before a refresh; ``min_refetch_interval_s`` bounds refetches caused by unknown
    kids. Pass ``http_client`` to share a client (then this verifier does not close it).
    """

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        leeway_s: float = 30.0,
        cache_ttl_s: float = 300.0,
        min_refetch_interval_s: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        fetch_timeout_s: float = 5.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=fetch_timeout_s)
        self.jwks = JwksCache(
            jwks_url,
            http_client=self._http,
            cache_ttl_s=cache_ttl_s,
            min_refetch_interval_s=min_refetch_interval_s,
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises TokenRejected, or JwksUnavailable when no keys."""
        kid = _key_id_of(token)  # a malformed token is refused before it can cause a JWKS fetch
        key = await self.jwks.key(kid)
        if key is None:
            raise TokenRejected("unknown signing key")
        return _verify_signed(token, key, issuer=self.issuer, audience=self.audience, leeway_s=self.leeway_s)

    async def aclose(self) -> None:
        """Close the HTTP client if this verifier created it."""
        if self._owns_client:
            await self._http.aclose()


VerificationKey: TypeAlias = jwt.PyJWK | Ed25519PublicKey
"""A public key as a JWKS yields it (``PyJWK``) or as ``cryptography`` holds it."""


def verify_with_keys(
    token: str,
    keys_by_kid: Mapping[str, VerificationKey],
    *,
    issuer: str,
    audience: str,
    leeway_s: float = 30.0,
    require_session: bool = False,
) -> Principal:
    """``JwtVerifier``'s rules, with keys the caller already holds (the auth service's own key ring).

    EdDSA only, whatever the header claims; a kid among ``keys_by_kid``; ``iss``, ``aud``, ``exp``,
    ``sub`` and ``role``, and with ``require_session`` also ``sid``. Raises TokenRejected.
    """
    key = keys_by_kid.get(_key_id_of(token))
    if key is None:
        raise TokenRejected("unknown signing key")
    return _verify_signed(
        token, key, issuer=issuer, audience=audience, leeway_s=leeway_s, require_session=require_session
    )


def _key_id_of(token: str) -> str:
    """The kid of a token that could be ours (EdDSA, sane length), read before any key is looked up."""
    if len(token) > _MAX_TOKEN_LENGTH:
        raise TokenRejected("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed token") from None
    if header.get("alg") != _ALGORITHM:
        raise TokenRejected("unsupported signing algorithm")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("token has no key id")
    return kid


def _verify_signed(
    token: str,
    key: VerificationKey,
    *,
    issuer: str,
    audience: str,
    leeway_s: float,
    require_session: bool = False,
) -> Principal:
    """The principal of ``token`` checked against ``key``: signature, claims, then their types."""
    required = ["exp", "iss", "aud", "sub", *(["sid"] if require_session else [])]
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key if isinstance(key, jwt.PyJWK) else key,
            algorithms=[_ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=leeway_s,
            options={"require": required},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token expired") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("wrong issuer") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("wrong audience") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("invalid signature") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"missing claim: {exc.claim}") from None
    except jwt.PyJWTError:
        raise TokenRejected("invalid token") from None
    return _principal_from(claims)


def _principal_from(claims: dict[str, Any]) -> Principal:
    sub, role, sid = claims.get("sub"), claims.get("role"), claims.get("sid")
    if not isinstance(sub, str) or not sub:
        raise TokenRejected("invalid subject")
    if not isinstance(role, str) or not role:
        raise TokenRejected("missing claim: role")
    if sid is not None and not isinstance(sid, str):
        raise TokenRejected("invalid session id")
    return Principal(user_id=sub, role=role, session_id=sid, claims=claims)
