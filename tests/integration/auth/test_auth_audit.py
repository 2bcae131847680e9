"""The security audit trail: role changes, lock-outs, resets, password changes, session revocations
and key rotations each log one structured `security_event` (who, what, from where, no secret), and
a role change is also an event on the bus, so other services can act before the token expires."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auth_harness import PASSWORD, TRUSTED_ORIGIN, AuthHarness
from structlog.testing import capture_logs

from codex_auth.commands import CreateAdmin
from codex_auth.handlers import create_admin
from codex_contracts import decode_envelope

NEW_PASSWORD = "a brand new passphrase"


def security_events(logs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["action"]: line for line in logs if line["event"] == "security_event"}


async def test_a_role_change_is_logged_and_announced_on_the_bus(auth: AuthHarness) -> None:
    ada, _ = await auth.account("ada@example.com")
    ada_id = (await ada.get("/auth/me")).json()["id"]
    await create_admin(CreateAdmin("root@example.com", PASSWORD, "Root"), deps=auth.deps)
    admin = auth.client(headers={"Origin": TRUSTED_ORIGIN, "X-Forwarded-For": "198.51.100.9"})
    token = (await auth.log_in(admin, "root@example.com")).json()["access_token"]
    admin_id = (await admin.get("/auth/me")).json()["id"]

    with capture_logs() as logs:
        changed = await admin.patch(
            f"/auth/users/{ada_id}/role",
            json={"role": "creator"},
            headers={"Authorization": f"Bearer {token}"},
        )
        again = await admin.patch(f"/auth/users/{ada_id}/role", json={"role": "creator"})
    assert changed.status_code == again.status_code == 200
    logged = security_events(logs)["role_changed"]
    assert (logged["user_id"], logged["actor_id"], logged["client_ip"]) == (ada_id, admin_id, "198.51.100.9")
    assert (logged["previous_role"], logged["role"]) == ("customer", "creator")

    rows = await auth.sql("SELECT body FROM outbox WHERE event_type = 'auth.user.role_changed.v1'")
    [event] = [decode_envelope(row["body"]) for row in rows]  # setting the same role again is no change
    assert event.subject == ada_id
    data = event.data
    assert (data.user_id, data.previous_role, data.role, data.changed_by) == (  # type: ignore[attr-defined]
        ada_id,
        "customer",
        "creator",
        admin_id,
    )


async def test_promotion_from_the_command_line_is_announced_without_an_actor(auth: AuthHarness) -> None:
    await auth.account("ada@example.com")
    await create_admin(CreateAdmin("ada@example.com", "whatever it is", "Ada"), deps=auth.deps)
    [row] = await auth.sql("SELECT body FROM outbox WHERE event_type = 'auth.user.role_changed.v1'")
    data = decode_envelope(row["body"]).data
    assert (data.previous_role, data.role, data.changed_by) == ("customer", "admin", None)  # type: ignore[attr-defined]


async def test_lock_outs_resets_changes_revocations_and_rotations_are_logged_without_secrets(
    start_auth: Callable[..., Any],
) -> None:
    async with start_auth(login_lock_threshold=2, login_lock_s=60) as auth:
        laptop, token = await auth.account("ada@example.com")
        phone = auth.client(headers={"Origin": TRUSTED_ORIGIN, "User-Agent": "phone"})
        await auth.log_in(phone, "ada@example.com")
        attacker = auth.client(headers={"X-Forwarded-For": "203.0.113.5"})
        with capture_logs() as logs:
            for _ in range(2):
                await auth.log_in(attacker, "ada@example.com", "not the password")
            sessions = (await laptop.get("/auth/sessions")).json()["sessions"]
            [other] = [s for s in sessions if not s["current"]]
            assert (await laptop.delete(f"/auth/sessions/{other['id']}")).status_code == 204
            assert (await laptop.post("/auth/sessions/revoke-others")).status_code == 200
            body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            assert (await laptop.post("/auth/password/change", json=body)).status_code == 200
            await laptop.post("/auth/password-reset/request", json={"email": "ada@example.com"})
            reset_token = await auth.link_token("ada@example.com", "/reset-password")
            reset = {"token": reset_token, "new_password": PASSWORD}
            assert (await laptop.post("/auth/password-reset/confirm", json=reset)).status_code == 204
            kid = await auth.deps.keys.rotate()

        events = security_events(logs)
        [ada_id] = [str(row["id"]) for row in await auth.sql("SELECT id FROM users")]
        assert events["account_locked"]["user_id"] == ada_id
        assert events["account_locked"]["client_ip"] == "203.0.113.5"
        assert events["session_revoked"]["session_id"] == other["id"]
        assert events["sessions_revoked"]["user_id"] == ada_id
        assert events["password_changed"]["user_id"] == ada_id
        assert (
            events["password_reset"]["user_id"] == ada_id
            and events["password_reset"]["sessions_revoked"] == 1
        )
        assert events["signing_key_rotated"]["kid"] == kid
        assert all(
            line["client_ip"] == "127.0.0.1"
            for name, line in events.items()
            if name
            not in (
                "account_locked",
                "signing_key_rotated",
            )
        )
        # Who, what and from where; never a password, a token or a cookie.
        written = repr([line for line in logs if line["event"] == "security_event"])
        for secret in (PASSWORD, NEW_PASSWORD, token, reset_token, laptop.cookies["codex_session"]):
            assert secret not in written
