"""argon2id password hashes, computed off the event loop on a bounded pool of threads.

argon2-cffi releases the GIL while it hashes, so threads give real parallelism; the pool is bounded
because every hash holds `memory_cost` KiB (64 MiB by default): sixteen logins at once must not
mean a gigabyte. A pool of our own also keeps hashing from starving the default executor, which
asyncio uses for DNS look-ups.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost; the defaults are RFC 9106's second recommended option (argon2-cffi's own)."""

    time_cost: int = argon2.profiles.RFC_9106_LOW_MEMORY.time_cost
    memory_cost_kib: int = argon2.profiles.RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = argon2.profiles.RFC_9106_LOW_MEMORY.parallelism


class PasswordHasher:
    def __init__(self, params: Argon2Params, *, max_concurrency: int | None = None) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        workers = max_concurrency or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        # A hash to verify against when the account does not exist, so that an unknown email costs
        # the same time as a wrong password and timing does not reveal which addresses have accounts.
        self._dummy_hash = self._hasher.hash("codex-auth: no such account")

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, password_hash, password
        )

    async def verify_nothing(self, password: str) -> None:
        """Spend the time of a verification on a throwaway hash (for unknown accounts)."""
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
