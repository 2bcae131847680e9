"""The signing keys as every replica sees them: read from the database, cached for a short while.

Rotation (the `rotate-keys` command) retires the current key and adds a new one. A retired key stays
in the JWKS for a grace period, so the tokens it signed keep verifying until they expire. The grace
period covers the longest life such a token can have: a replica may sign with the old key for up
to `cache_ttl` after the rotation (it has not re-read the ring yet), that token lives `access_ttl`,
and verifiers tolerate `leeway` of clock skew. After that the key leaves the JWKS and its tokens are
refused everywhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from codex_auth import repository as repo
from codex_auth.keys import CurrentKey, KeySealer, PublishedKey, generate_key
from codex_auth.repository import Conn

_log = structlog.get_logger("codex.auth.keys")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    current: CurrentKey
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
        clock: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._sealer = sealer
        self._cache_ttl_s = cache_ttl.total_seconds()
        self.grace = grace
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()

    async def signing_key(self) -> CurrentKey:
        return (await self._fresh()).current

    async def published(self) -> dict[str, PublishedKey]:
        """The keys tokens may be signed with right now, by kid: the current one and the recently retired."""
        return (await self._fresh()).published

    async def rotate(self) -> str:
        """Retire the current key and make a new one current; returns the new kid."""
        now = self._clock()
        new = generate_key()
        async with self._pool.acquire() as conn, conn.transaction():
            retired = await repo.retire_current_key(conn, now)
            await repo.insert_current_key(
                conn, new.kid, new.public_raw, self._sealer.seal(new.private_raw, new.kid), now
            )
            # Keys past their grace period sign nothing and verify nothing: keep no copy of them.
            pruned = await repo.delete_keys_retired_before(conn, now - self.grace)
        self._snapshot = None
        _log.info("signing_key_rotated", kid=new.kid, retired_kid=retired, pruned=pruned)
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
        async with self._pool.acquire() as conn:
            current = await repo.current_key(conn)
            if current is None:
                current = await self._create_first(conn)
            published = await repo.published_keys(conn, self._clock() - self.grace)
        kid, sealed = current
        private = Ed25519PrivateKey.from_private_bytes(self._sealer.open(bytes(sealed), kid))
        return _Snapshot(
            current=CurrentKey(kid, private),
            published={key.kid: key for key in published},
            read_at=time.monotonic(),
        )

    async def _create_first(self, conn: Conn) -> tuple[str, bytes]:
        new = generate_key()
        sealed = self._sealer.seal(new.private_raw, new.kid)
        if await repo.insert_current_key(conn, new.kid, new.public_raw, sealed, self._clock()):
            _log.info("signing_key_created", kid=new.kid)
        # Whether this replica or another one won the race, the database now holds the current key.
        current = await repo.current_key(conn)
        assert current is not None
        return current


# The key table's queries: only the key ring reads or writes it.
