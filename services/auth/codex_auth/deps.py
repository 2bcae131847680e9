"""What the handlers need, in one value: built by bootstrap.py, replaced piece by piece in tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from redis.asyncio import Redis

from codex_auth.background import Background
from codex_auth.domain import SessionPolicy
from codex_auth.keyring import KeyRing
from codex_auth.passwords import PasswordHasher
from codex_auth.settings import AuthSettings
from codex_bus.outbox import Outbox
from codex_platform.mail import BackgroundMailer
from codex_platform.ratelimit import FailureLock, RateLimiter
from codex_platform.service import Clock


@dataclass(frozen=True, slots=True)
class Deps:
    settings: AuthSettings
    pool: asyncpg.Pool[Any]
    redis: Redis
    passwords: PasswordHasher
    keys: KeyRing
    limiter: RateLimiter
    login_lock: FailureLock
    mail: BackgroundMailer
    background: Background
    """Work after the answer (the mailed links' writes), so that its timing reveals no account."""
    outbox: Outbox
    """Events are added inside the transaction of the change they report; the relay publishes them."""
    clock: Clock

    @property
    def session_policy(self) -> SessionPolicy:
        return SessionPolicy(
            lifetime=timedelta(seconds=self.settings.session_ttl_s),
            extend_after=timedelta(seconds=self.settings.session_extend_after_s),
        )

    @property
    def one_time_token_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.one_time_token_ttl_s)
