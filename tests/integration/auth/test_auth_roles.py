"""Roles: admins change other users' roles; nobody else does; the next access token carries the role."""

from __future__ import annotations

import httpx
import jwt
from auth_harness import PASSWORD, TRUSTED_ORIGIN, AuthHarness

from codex_auth.commands import CreateAdmin
from codex_auth.handlers import create_admin


async def admin_client(auth: AuthHarness) -> tuple[httpx.AsyncClient, dict[str, str]]:
    await create_admin(CreateAdmin("root@example.com", PASSWORD, "Root"), deps=auth.deps)
    client = auth.client(headers={"Origin": TRUSTED_ORIGIN})
    token = (await auth.log_in(client, "root@example.com")).json()["access_token"]
    return client, {"Authorization": f"Bearer {token}"}


async def test_an_admin_makes_a_customer_a_creator(auth: AuthHarness) -> None:
    ada, _ = await auth.account("ada@example.com")
    ada_id = (await ada.get("/auth/me")).json()["id"]
    admin, headers = await admin_client(auth)

    response = await admin.patch(f"/auth/users/{ada_id}/role", json={"role": "creator"}, headers=headers)
    assert response.status_code == 200
    assert response.json()["role"] == "creator" and response.json()["email"] == "ada@example.com"
    refreshed = (await ada.post("/auth/refresh")).json()["access_token"]
    assert jwt.decode(refreshed, options={"verify_signature": False})["role"] == "creator"


async def test_a_non_admin_cannot_change_a_role(auth: AuthHarness) -> None:
    ada, ada_token = await auth.account("ada@example.com")
    bob, _ = await auth.account("bob@example.com")
    bob_id = (await bob.get("/auth/me")).json()["id"]
    ada_id = (await ada.get("/auth/me")).json()["id"]
    headers = {"Authorization": f"Bearer {ada_token}"}
    for target in (bob_id, ada_id):
        response = await ada.patch(f"/auth/users/{target}/role", json={"role": "admin"}, headers=headers)
        assert response.status_code == 403
    # By cookie too (a mutation with the cookie passes the origin check first, then the role one).
    assert (await ada.patch(f"/auth/users/{bob_id}/role", json={"role": "admin"})).status_code == 403
    assert [r["role"] for r in await auth.sql("SELECT role FROM users ORDER BY email")] == [
        "customer",
        "customer",
    ]


async def test_an_admin_cannot_change_their_own_role_or_a_missing_user(auth: AuthHarness) -> None:
    admin, headers = await admin_client(auth)
    me = (await admin.get("/auth/me", headers=headers)).json()
    own = await admin.patch(f"/auth/users/{me['id']}/role", json={"role": "customer"}, headers=headers)
    assert own.status_code == 403
    missing = await admin.patch(
        "/auth/users/00000000-0000-4000-8000-000000000000/role", json={"role": "creator"}, headers=headers
    )
    assert missing.status_code == 404
    invalid = await admin.patch(f"/auth/users/{me['id']}/role", json={"role": "emperor"}, headers=headers)
    assert invalid.status_code == 400


async def test_create_admin_promotes_an_existing_account(auth: AuthHarness) -> None:
    await auth.account("ada@example.com")
    user, created = await create_admin(
        CreateAdmin("ADA@example.com", "whatever it is", "Ada"), deps=auth.deps
    )
    assert (created, user.role) == (False, "admin")
    # Promotion does not touch the password.
    async with auth.client() as client:
        assert (await auth.log_in(client, "ada@example.com")).status_code == 200
