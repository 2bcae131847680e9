"""A cache of the auth service's JWKS (its Ed25519 public keys), fetched with httpx.

Keys are refreshed every ``cache_ttl_s``. A token signed with a key we do not know yet (the auth
service rotated its key) triggers one refetch; further unknown-kid refetches wait
``min_refetch_interval_s`` so that a flood of tokens with invented kids cannot turn every request
into a call to the JWKS endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import structlog

_log = structlog.get_logger("codex.http.jwks")
# After a failed fetch, try again this much later (meanwhile: the keys we have, or JwksUnavailable).
_RETRY_AFTER_FAILURE_S = 10.0


class JwksUnavailable(Exception):
    """The JWKS could not be fetched and no usable keys are cached."""


def parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable Ed25519 public keys of a JWKS document, by kid; other keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or "d" in entry:
            # Only public Ed25519 keys: a private part in a JWKS is a publishing mistake, not a key.
            continue
        try:
            key = jwt.PyJWK(entry, algorithm="EdDSA")
        except jwt.PyJWTError:
            _log.warning("jwks_key_skipped", kid=entry["kid"])
            continue
        keys[entry["kid"]] = key
    return keys


class JwksCache:
    """The keys of one JWKS URL, refreshed on expiry and (rate-limited) on unknown kids."""

    def __init__(
        self,
        jwks_url: str,
        *,
        http_client: httpx.AsyncClient,
        cache_ttl_s: float = 300.0,
        min_refetch_interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jwks_url = jwks_url
        self._http = http_client
        self._ttl_s = cache_ttl_s
        self._min_refetch_interval_s = min_refetch_interval_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._expires_at = 0.0
        self._last_unknown_kid_refetch: float | None = None
        self._generation = 0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, or None when the JWKS does not have it (even after a refetch)."""
        if self._clock() >= self._expires_at:
            await self._refresh(self._generation)
        if self._keys is None:
            raise JwksUnavailable("the JWKS could not be fetched")
        keys = self._keys
        if kid in keys:
            return keys[kid]
        if self._may_refetch_for_unknown_kid():
            self._last_unknown_kid_refetch = self._clock()
            await self._refresh(self._generation)
        elif self._lock.locked():
            # A refresh is in flight (perhaps for this very rotation): its result is worth waiting for.
            async with self._lock:
                pass
        return (self._keys or {}).get(kid)

    def _may_refetch_for_unknown_kid(self) -> bool:
        last = self._last_unknown_kid_refetch
        return last is None or self._clock() - last >= self._min_refetch_interval_s

    async def _refresh(self, seen_generation: int) -> None:
        async with self._lock:
            if self._generation != seen_generation:
                return  # another task refreshed while this one waited for the lock
            self._generation += 1
            try:
                response = await self._http.get(self.jwks_url)
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                # Keep what we have (if anything) and back off, rather than calling a failing
                # endpoint once per request.
                _log.warning("jwks_fetch_failed", url=self.jwks_url, error_type=type(exc).__qualname__)
                self._expires_at = self._clock() + _RETRY_AFTER_FAILURE_S
                return
            self._keys = keys
            self._expires_at = self._clock() + self._ttl_s
            _log.info("jwks_fetched", url=self.jwks_url, kids=sorted(keys))
