"""Rate limits shared by the handlers (Redis, across replicas)."""

from __future__ import annotations

from codex_auth.deps import Deps
from codex_auth.domain import (
    RateLimited,
)
from codex_auth.settings import rate
from codex_platform.ratelimit import Decision


async def check_rate(deps: Deps, name: str, key: str, spec: str) -> None:
    decision = await deps.limiter.hit(name, key, rate(spec))
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)


async def mail_to_address(deps: Deps, email: str) -> Decision:
    """Count a mail to `email` against its limit, whoever asks and whichever mail it is (sign-up,
    verification, reset), so that nobody can flood someone else's inbox from many addresses."""
    return await deps.limiter.hit("mail-to-address", email, rate(deps.settings.mail_limit))
