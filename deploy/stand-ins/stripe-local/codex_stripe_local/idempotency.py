"""Idempotent requests as Stripe keeps them (https://docs.stripe.com/api/idempotent_requests): the first
answer to a POST with an `Idempotency-Key` is saved (status and body, errors included once the endpoint
started executing) and replayed for the same key with the same parameters; the same key with other
parameters is a 400 `idempotency_error`. Keys are per API key and expire after 24 hours."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from codex_stripe_local.errors import StripeError

__all__ = ["IdempotencyKeys", "SavedAnswer"]


@dataclass(frozen=True)
class SavedAnswer:
    fingerprint: str
    status: int
    body: dict[str, Any]
    expires_at: float


class IdempotencyKeys:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._saved: dict[tuple[str, str], SavedAnswer] = {}

    @staticmethod
    def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
        return json.dumps([method.upper(), path, params], sort_keys=True)

    def replay(self, api_key: str, key: str, fingerprint: str) -> SavedAnswer | None:
        """The saved answer for `key`, None if there is none; raises if the key was used otherwise."""
        saved = self._saved.get((api_key, key))
        if saved is None or saved.expires_at < time.monotonic():
            return None
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first "
                f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
            )
        return saved

    def save(self, api_key: str, key: str, fingerprint: str, status: int, body: dict[str, Any]) -> None:
        now = time.monotonic()
        if len(self._saved) > 10_000:
            self._saved = {k: v for k, v in self._saved.items() if v.expires_at >= now}
        self._saved[(api_key, key)] = SavedAnswer(fingerprint, status, body, now + self.ttl_s)
