"""Rate limits shared by the handlers (Redis, across replicas)."""

from __future__ import annotations

from codex_auth.deps import Deps
from codex_auth.domain import (
    RateLimited,
)
from codex_auth.settings import rate


async def check_rate(deps: Deps, name: str, key: str, spec: str) -> None:
    decision = await deps.limiter.hit(name, key, rate(spec))
    if not decision.allowed:
        raise RateLimited(decision.retry_after_s)
