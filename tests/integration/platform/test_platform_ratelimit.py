"""The Redis rate limiter and failure lock, against a real Redis, shared by several clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from codex_platform.ratelimit import FailureLock, Limit, RateLimiter


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_sliding_window_counts_across_replicas(
    redis: Redis, redis_url: str, redis_prefix: str
) -> None:
    other = Redis.from_url(redis_url)  # a second replica: its own connection, the same counters
    try:
        one, two = RateLimiter(redis, prefix=redis_prefix), RateLimiter(other, prefix=redis_prefix)
        limit = Limit(3, 1)
        decisions = [await limiter.hit("login", "192.0.2.1", limit) for limiter in (one, two, one, two)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
        assert decisions[-1].retry_after_s == 1
        assert (await one.hit("login", "192.0.2.2", limit)).allowed  # another key, another count
        assert (await one.hit("signup", "192.0.2.1", limit)).allowed  # another name, another count
        await asyncio.sleep(1.05)
        assert (await two.hit("login", "192.0.2.1", limit)).allowed
    finally:
        await other.aclose()


async def test_refused_hits_are_not_counted(redis: Redis, redis_prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=redis_prefix)
    limit = Limit(1, 0.5)
    assert (await limiter.hit("x", "k", limit)).allowed
    for _ in range(5):
        assert not (await limiter.hit("x", "k", limit)).allowed
    await asyncio.sleep(0.55)
    assert (await limiter.hit("x", "k", limit)).allowed  # hammering did not extend the wait


async def test_reset_forgets_the_hits(redis: Redis, redis_prefix: str) -> None:
    limiter = RateLimiter(redis, prefix=redis_prefix)
    assert (await limiter.hit("x", "k", Limit(1, 60))).allowed
    await limiter.reset("x", "k")
    assert (await limiter.hit("x", "k", Limit(1, 60))).allowed


async def test_keys_are_not_stored_in_clear(redis: Redis, redis_prefix: str) -> None:
    await RateLimiter(redis, prefix=redis_prefix).hit("login", "ada@example.com", Limit(3, 10))
    keys = [key.decode() async for key in redis.scan_iter(match=f"{redis_prefix}*")]
    assert keys and not any("ada@example.com" in key for key in keys)


async def test_the_failure_lock_locks_then_lifts(redis: Redis, redis_prefix: str) -> None:
    lock = FailureLock(redis, prefix=redis_prefix, threshold=3, lock_s=1)
    assert [await lock.record_failure("ada") for _ in range(2)] == [0, 0]
    assert await lock.locked_for("ada") == 0
    assert await lock.record_failure("ada") == 1
    assert await lock.locked_for("ada") == 1
    assert await lock.locked_for("bob") == 0
    await asyncio.sleep(1.05)
    assert await lock.locked_for("ada") == 0


async def test_clearing_forgets_failures_and_lifts_the_lock(redis: Redis, redis_prefix: str) -> None:
    lock = FailureLock(redis, prefix=redis_prefix, threshold=2, lock_s=60)
    await lock.record_failure("ada")
    await lock.clear("ada")
    assert await lock.record_failure("ada") == 0  # the count started again
    await lock.record_failure("ada")
    assert await lock.locked_for("ada") > 0
    await lock.clear("ada")
    assert await lock.locked_for("ada") == 0
