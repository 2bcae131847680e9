"""The signing keys as every replica sees them: read from the database, cached for a short while.

Rotation (the `rotate-keys` command) adds a new key that is published at once but signs only
`lead` later (two key-cache lifetimes): by then every replica has re-read the ring and every
verifier's copy of the JWKS (max-age one cache lifetime) lists it, so no valid token is ever
refused for an unknown key. The key it replaces is retired at that same instant and signs until
then. A retired key stays in the JWKS for a grace period, so the tokens it signed keep verifying
until they expire: a replica may sign with it for up to `cache_ttl` after its retirement (a ring
read before the rotation), that token lives `access_ttl`, and verifiers tolerate `leeway` of clock
skew. After that the key leaves the JWKS and its tokens are refused everywhere.

Should a token name a kid this replica does not know (a key added some other way, a clock far
ahead), the ring is read again once, at most once per `min_reload_interval`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codex_auth import repository as repo
from codex_auth.audit import security_event
from codex_auth.keys import CurrentKey, KeySealer, PublishedKey, generate_key
from codex_auth.repository import Conn


@dataclass(frozen=True, slots=True)
class _Snapshot:
    signers: list[tuple[datetime, CurrentKey]]  # by signs_from, oldest first
    published: dict[str, PublishedKey]
    read_at: float


class KeyRing:
    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        sealer: KeySealer,
        *,
        cache_ttl: timedelta,
        grace: timedelta,
        lead: timedelta = timedelta(0),
        clock: Callable[[], datetime],
        min_reload_interval: timedelta = timedelta(seconds=1),
    ) -> None:
        self._pool = pool
        self._sealer = sealer
        self._cache_ttl_s = cache_ttl.total_seconds()
        self.grace = grace
        self.lead = lead
        self._clock = clock
        self._min_reload_s = min_reload_interval.total_seconds()
        self._last_reload: float | None = None
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> CurrentKey:
        """The newest key whose time to sign has come."""
        now = self._clock()
        signers = (await self._fresh()).signers
        due = [key for signs_from, key in signers if signs_from <= now]
        return due[-1] if due else signers[0][1]

    async def published(self) -> dict[str, PublishedKey]:
        """The keys tokens may be signed with, by kid: current, next, and the recently retired."""
        return (await self._fresh()).published

    async def reload_for_unknown_kid(self, kid: str) -> bool:
        """Read the ring again for a kid it lacks (rate-limited); True when it now knows the kid."""
        now = time.monotonic()
        if self._last_reload is not None and now - self._last_reload < self._min_reload_s:
            return False
        self._last_reload = now
        async with self._lock:
            self._snapshot = await self._read()
            return kid in self._snapshot.published

    async def rotate(self) -> str:
        """Add a new key that signs `lead` from now, retiring the current one then; the new kid."""
        now = self._clock()
        signs_from = now + self.lead
        new = generate_key()
        async with self._pool.acquire() as conn, conn.transaction():
            retired = await repo.retire_unretired_key(conn, signs_from)
            await repo.insert_key(
                conn, new.kid, new.public_raw, self._sealer.seal(new.private_raw, new.kid), now, signs_from
            )
            # Keys past their grace period sign nothing and verify nothing: keep no copy of them.
            pruned = await repo.delete_keys_retired_before(conn, now - self.grace)
        self._snapshot = None
        security_event(
            "signing_key_rotated",
            kid=new.kid,
            signs_from=signs_from.isoformat(),
            retired_kid=retired,
            pruned=pruned,
        )
        return new.kid

    async def _fresh(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - snapshot.read_at < self._cache_ttl_s:
            return snapshot
        async with self._lock:
            if self._snapshot is not snapshot and self._snapshot is not None:
                return self._snapshot  # another task read it while this one waited
            self._snapshot = await self._read()
            return self._snapshot

    async def _read(self) -> _Snapshot:
        now = self._clock()
        async with self._pool.acquire() as conn:
            candidates = await repo.signing_candidates(conn, now)
            if not candidates:
                await self._create_first(conn, now)
                candidates = await repo.signing_candidates(conn, now)
            published = await repo.published_keys(conn, now - self.grace)
        signers = [
            (signs_from, CurrentKey(kid, self._private_key(sealed, kid)))
            for kid, sealed, signs_from in candidates
        ]
        return _Snapshot(signers, {key.kid: key for key in published}, time.monotonic())

    def _private_key(self, sealed: bytes, kid: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self._sealer.open(sealed, kid))

    async def _create_first(self, conn: Conn, now: datetime) -> None:
        new = generate_key()
        sealed = self._sealer.seal(new.private_raw, new.kid)
        # Whether this replica or another one wins the race, the database then holds the key.
        if await repo.insert_key(conn, new.kid, new.public_raw, sealed, now, now):
            security_event("signing_key_created", kid=new.kid)
