"""argon2id hashing off the event loop, and rehash detection."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from codex_auth.passwords import Argon2Params, PasswordHasher, usable_cpus
from codex_platform.errors import Unavailable

CHEAP = Argon2Params(time_cost=1, memory_cost_kib=1024, parallelism=1)


async def test_a_hash_verifies_its_password_only() -> None:
    hasher = PasswordHasher(CHEAP, max_concurrency=2)
    hashed = await hasher.hash("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await hasher.verify(hashed, "correct horse battery")
    assert not await hasher.verify(hashed, "correct horse battery!")
    assert not await hasher.verify("not a hash", "correct horse battery")
    await hasher.verify_nothing("anything")  # costs a verification, reveals nothing
    hasher.close()


async def test_hashes_made_with_other_parameters_need_a_rehash() -> None:
    old = PasswordHasher(CHEAP)
    new = PasswordHasher(Argon2Params(time_cost=2, memory_cost_kib=2048, parallelism=1))
    hashed = await old.hash("correct horse battery")
    assert not old.needs_rehash(hashed)
    assert new.needs_rehash(hashed)
    assert new.needs_rehash("garbage")
    assert await new.verify(hashed, "correct horse battery")  # still verifies meanwhile
    old.close()
    new.close()


def test_the_defaults_are_rfc_9106s_second_recommendation() -> None:
    assert Argon2Params() == Argon2Params(time_cost=3, memory_cost_kib=65536, parallelism=4)


async def test_past_the_waiting_bound_hashing_refuses_at_once_with_retry_after() -> None:
    hasher = PasswordHasher(CHEAP, max_concurrency=1, max_waiting=1)
    results = await asyncio.gather(
        *(hasher.hash("correct horse battery") for _ in range(4)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Unavailable)]
    # One hashing, one waiting; the other two are told to come back rather than queue without end.
    assert len(refused) == 2 and all(r.status == 503 for r in refused)
    assert all(r.headers()["Retry-After"] == "1" for r in refused)
    assert sum(isinstance(r, str) for r in results) == 2
    # Once the queue has drained, hashing goes on as before.
    assert (await hasher.hash("correct horse battery")).startswith("$argon2id$")
    hasher.close()


def test_threads_follow_the_cpus_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the host's, as a container sees them
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    no_quota = tmp_path / "none"
    assert usable_cpus(no_quota) == 4
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # docker run --cpus=1.5
    assert usable_cpus(quota) == 2
    quota.write_text("max 100000\n")
    assert usable_cpus(quota) == 4
    hasher = PasswordHasher(CHEAP)
    assert hasher.workers == usable_cpus() <= 4
    assert hasher.max_waiting == 16 * hasher.workers
    hasher.close()
