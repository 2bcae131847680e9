"""argon2id password hashes, computed off the event loop on a bounded pool of threads.

argon2-cffi releases the GIL while it hashes, so threads give real parallelism; the pool is bounded
because every hash holds `memory_cost` KiB (64 MiB by default): sixteen logins at once must not
mean a gigabyte. A pool of our own also keeps hashing from starving the default executor, which
asyncio uses for DNS look-ups.

The queue in front of the pool is bounded too: a login flood would otherwise queue without end and
raise every caller's latency, so past `max_waiting` hashes waiting the hasher refuses at once with
`Unavailable` (503 and Retry-After), and the callers already queued are served in time.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from codex_platform.errors import Unavailable

T = TypeVar("T")

# How many hashes may wait per worker thread before the hasher refuses more.
WAITING_PER_WORKER = 16


def usable_cpus(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota.

    `os.cpu_count()` counts the host's CPUs, which inside a container limited to two CPUs may be 64:
    64 threads of 64 MiB hashes on two CPUs would only add memory and latency.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity mask is all we know
    return max(1, cpus)


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost; the defaults are RFC 9106's second recommended option (argon2-cffi's own)."""

    time_cost: int = argon2.profiles.RFC_9106_LOW_MEMORY.time_cost
    memory_cost_kib: int = argon2.profiles.RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = argon2.profiles.RFC_9106_LOW_MEMORY.parallelism


class PasswordHasher:
    def __init__(
        self, params: Argon2Params, *, max_concurrency: int | None = None, max_waiting: int | None = None
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self.workers = max_concurrency or usable_cpus()
        self.max_waiting = max_waiting if max_waiting is not None else WAITING_PER_WORKER * self.workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="argon2")
        self._admitted = 0  # hashes running or waiting for a thread
        # A hash to verify against when the account does not exist, so that an unknown email costs
        # the same time as a wrong password and timing does not reveal which addresses have accounts.
        self._dummy_hash = self._hasher.hash("codex-auth: no such account")

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify, password_hash, password)

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

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._admitted >= self.workers + self.max_waiting:
            # Roughly when a thread frees up for one more: the queue drains a hash per worker at a time.
            raise Unavailable("Too many sign-ins at once; try again in a moment", retry_after_s=1)
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self._admitted -= 1

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
