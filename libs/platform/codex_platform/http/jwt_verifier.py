"""Local verification of the auth service's EdDSA (Ed25519) access tokens."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import msgspec

from codex_platform.http.jwks import JwksCache, JwksUnavailable

__all__ = ["JwksUnavailable", "JwtVerifier", "Principal", "TokenRejected"]

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
        key = await self.jwks.key(kid)
        if key is None:
            raise TokenRejected("unknown signing key")
        claims = self._decode(token, key)
        return _principal_from(claims)

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
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
        return claims

    async def aclose(self) -> None:
        """Close the HTTP client if this verifier created it."""
        if self._owns_client:
            await self._http.aclose()


def _principal_from(claims: dict[str, Any]) -> Principal:
    sub, role, sid = claims.get("sub"), claims.get("role"), claims.get("sid")
    if not isinstance(sub, str) or not sub:
        raise TokenRejected("invalid subject")
    if not isinstance(role, str) or not role:
        raise TokenRejected("missing claim: role")
    if sid is not None and not isinstance(sid, str):
        raise TokenRejected("invalid session id")
    return Principal(user_id=sub, role=role, session_id=sid, claims=claims)
