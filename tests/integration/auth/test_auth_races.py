"""Login against a password reset that commits while the login is still hashing: the reset wins.

The login verifies the password, then (up to a hash's time later) may rehash it and opens a session.
A reset committed in between must neither be undone by the rehash (the old password coming back)
nor leave a session that "every session ends" should have ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from auth_harness import PASSWORD, AuthHarness

from codex_auth.commands import Client, LogIn
from codex_auth.domain import InvalidCredentials
from codex_auth.handlers import log_in
from codex_auth.passwords import PasswordHasher

NEW_PASSWORD = "a brand new passphrase"


class ResetWhileVerifying:
    """The service's hasher, but `during` runs right after a verification, before its answer, and
    every hash looks old (so the login rehashes, as after raising the cost parameters)."""

    def __init__(self, inner: PasswordHasher, during: Callable[[], Awaitable[None]]) -> None:
        self._inner = inner
        self._during = during

    async def verify(self, password_hash: str, password: str) -> bool:
        verified = await self._inner.verify(password_hash, password)
        await self._during()
        return verified

    def needs_rehash(self, password_hash: str) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_reset_committed_during_a_login_wins(auth: AuthHarness) -> None:
    client, _ = await auth.account("ada@example.com")
    await client.post("/auth/password-reset/request", json={"email": "ada@example.com"})
    token = await auth.link_token("ada@example.com", "/reset-password")

    async def reset() -> None:
        body = {"token": token, "new_password": NEW_PASSWORD}
        assert (await client.post("/auth/password-reset/confirm", json=body)).status_code == 204

    racing = dataclasses.replace(auth.deps, passwords=ResetWhileVerifying(auth.deps.passwords, reset))  # type: ignore[arg-type]
    with pytest.raises(InvalidCredentials):
        await log_in(LogIn("ada@example.com", PASSWORD, Client("127.0.0.1")), deps=racing)

    # No session survived the reset, and the old password did not come back through a rehash.
    assert await auth.sql("SELECT 1 FROM sessions WHERE revoked_at IS NULL") == []
    assert (await auth.log_in(client, "ada@example.com", PASSWORD)).status_code == 401
    assert (await auth.log_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 200
