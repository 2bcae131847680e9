"""Rate limits and failure locks shared by every replica of a service, counted in Redis.

Both are single Lua scripts, so a check and its count are one atomic step on the server however
many replicas ask at once, and both read the Redis server's clock, so replicas whose clocks
disagree still share one window. Keys are hashed: an email address used as a key is not stored in
Redis in clear.

    limiter = RateLimiter(redis, prefix="auth:")
    decision = await limiter.hit("login", client_bucket(ip), Limit(3, 10))
    if not decision.allowed:
        raise Problem(429, headers={"Retry-After": str(decision.retry_after_s)})
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

__all__ = ["Decision", "FailureLock", "Limit", "RateLimiter", "client_account_key", "client_bucket"]

# A sliding-window log: one sorted-set member per allowed hit, scored by the server's time in ms.
# A refused hit is not recorded, so a client that keeps hammering is let in again once its old
# hits leave the window, rather than being locked out for as long as it keeps trying.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
"""

# Failures counted over `window` from the first one; the threshold-th sets the lock and starts over.
_RECORD_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return tonumber(ARGV[3])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` hits in any `window_s` seconds."""

    count: int
    window_s: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.window_s <= 0:
            raise ValueError(f"a limit needs count >= 1 and window_s > 0, got {self}")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_s: int
    """Whole seconds until a hit would be allowed (0 when this one was): the Retry-After value."""


def _seconds(ms: float) -> int:
    return max(1, math.ceil(ms / 1000))


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class RateLimiter:
    """Sliding-window limits: `hit` counts a hit against `name`/`key` unless it is over the limit."""

    def __init__(self, redis: Redis, *, prefix: str = "") -> None:
        self._redis = redis
        self._prefix = f"{prefix}rl:"
        self._script: Any = redis.register_script(_SLIDING_WINDOW)

    def _key(self, name: str, key: str) -> str:
        return f"{self._prefix}{name}:{_hashed(key)}"

    async def hit(self, name: str, key: str, limit: Limit) -> Decision:
        """Count one hit if allowed; a refused hit is not counted."""
        allowed, remaining, retry_ms = await self._script(
            keys=[self._key(name, key)],
            args=[limit.count, math.ceil(limit.window_s * 1000), uuid.uuid4().hex],
        )
        if allowed:
            return Decision(True, int(remaining), 0)
        return Decision(False, 0, _seconds(float(retry_ms)))

    async def reset(self, name: str, key: str) -> None:
        await self._redis.delete(self._key(name, key))


class FailureLock:
    """Lock a key for `lock_s` once `threshold` failures happen within `window_s` (default `lock_s`).

    For "10 failed logins lock the account for 15 minutes": check `locked_for` before the attempt,
    `record_failure` after a failed one, `clear` after a successful one. Key it with
    `client_account_key(account, address)`, not the account alone: a lock on the account alone lets
    anyone lock anyone out (ten wrong passwords against the admin's address, every 15 minutes).
    """

    def __init__(
        self, redis: Redis, *, prefix: str = "", threshold: int, lock_s: float, window_s: float | None = None
    ) -> None:
        if threshold < 1 or lock_s <= 0:
            raise ValueError("a failure lock needs threshold >= 1 and lock_s > 0")
        self._redis = redis
        self._prefix = f"{prefix}lock:"
        self._threshold = threshold
        self._lock_ms = math.ceil(lock_s * 1000)
        self._window_ms = math.ceil((window_s if window_s is not None else lock_s) * 1000)
        self._script: Any = redis.register_script(_RECORD_FAILURE)

    def _keys(self, key: str) -> tuple[str, str]:
        hashed = _hashed(key)
        return f"{self._prefix}failures:{hashed}", f"{self._prefix}locked:{hashed}"

    async def locked_for(self, key: str) -> int:
        """Whole seconds the key stays locked; 0 when it is not locked."""
        ttl_ms = await self._redis.pttl(self._keys(key)[1])
        return _seconds(ttl_ms) if ttl_ms > 0 else 0

    async def record_failure(self, key: str) -> int:
        """Count a failure; the lock's length in seconds when this one locked the key, else 0."""
        locked_ms = await self._script(
            keys=list(self._keys(key)), args=[self._threshold, self._window_ms, self._lock_ms]
        )
        return _seconds(float(locked_ms)) if int(locked_ms) else 0

    async def clear(self, key: str) -> None:
        """Forget the failures and lift the lock (after a success or a password reset)."""
        await self._redis.delete(*self._keys(key))


def client_bucket(address: str, *, ipv6_prefix: int = 64) -> str:
    """The rate-limit key of a client address: IPv4 as it is, IPv6 by its /64 network.

    One IPv6 subscriber usually holds a whole /64, so limiting single addresses would let a client
    rotate through 2^64 of them. An IPv4-mapped IPv6 address counts as its IPv4 address; something
    that is not an address (a test client's name, a Unix socket) is used as it is.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, ipv6_prefix), strict=False))
    return str(ip)


def client_account_key(account: str, address: str) -> str:
    """The failure-lock key of an account as tried from one client network (`client_bucket`):
    failures from one network lock the account there only, so its owner still gets in from theirs."""
    return f"{client_bucket(address)} {account}"
