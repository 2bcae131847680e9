"""schemathesis against auth's own OpenAPI document: every check, every phase (examples, coverage,
fuzzing, stateful), signed in as a customer, a creator and an admin (each a real, confirmed account
that logs in again whenever a generated logout or password change ends its session). No failure is
allowed but the refusals listed below, each of which needs state the generator cannot know."""

from __future__ import annotations

import asyncio
import email
import os
import re
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
from auth_harness import PASSWORD, TRUSTED_ORIGIN

from codex_auth.app import create_app
from codex_auth.bootstrap import bootstrap
from codex_auth.commands import CreateAdmin
from codex_auth.handlers import create_admin
from codex_auth.settings import AuthSettings
from codex_platform.testing.schemathesis_run import LogIn, Refusal, run_schemathesis, serve_in_thread

# Per operation and phase; AUTH_FUZZ_EXAMPLES=200 for a longer hunt. Anonymous callers need no run of
# their own: the ignored_auth check sends each secured request without credentials and with wrong ones.
EXAMPLES = int(os.environ.get("AUTH_FUZZ_EXAMPLES", "5"))

REFUSALS = [
    Refusal(
        "POST /auth/verify-email/confirm",
        "positive_data_acceptance",
        "a well-formed token that no mail carried is refused (400): only a mailed link holds a real one",
        status=400,
    ),
    Refusal(
        "POST /auth/password-reset/confirm",
        "positive_data_acceptance",
        "a well-formed reset token that no mail carried is refused (400)",
        status=400,
    ),
    Refusal(
        "POST /auth/password/change",
        "positive_data_acceptance",
        "a generated current password is not the account's (400 wrong-password)",
        status=400,
    ),
]


async def test_auth_passes_schemathesis(
    auth_settings_factory: Callable[..., AuthSettings], migrated: str
) -> None:
    settings = auth_settings_factory()
    async with bootstrap(settings) as deps:
        await create_admin(CreateAdmin("root@example.com", PASSWORD, "Root"), deps=deps)
    app = create_app(settings)
    # schemathesis is synchronous: the service runs in a thread of its own while it calls.
    report = await asyncio.to_thread(_fuzz, app, settings)
    print(f"auth: {report.summary()}", *report.allowed_lines(), sep="\n  ")
    # Each identity was signed in for real: its token opened what needs one.
    for identity in ("customer", "creator", "admin"):
        assert {"GET /auth/me", "GET /auth/sessions"} <= report.succeeded[identity], identity


def _fuzz(app: Any, settings: AuthSettings) -> Any:
    with serve_in_thread(app, name="auth-under-test") as url:
        with httpx.Client(base_url=url, headers={"Origin": TRUSTED_ORIGIN}) as client:
            for address in ("customer@example.com", "creator@example.com"):
                body = {"email": address, "password": PASSWORD, "display_name": "Fuzz"}
                assert client.post("/auth/signup", json=body).status_code == 202
                token = mailed_token(Path(settings.mail_folder), address, "/verify-email")
                assert client.post("/auth/verify-email/confirm", json={"token": token}).status_code == 204
            root = _log_in(client, "root@example.com")
            creator_id = client.get("/auth/me", headers=_bearer(_log_in(client, "creator@example.com")))
            promoted = client.patch(
                f"/auth/users/{creator_id.json()['id']}/role", json={"role": "creator"}, headers=_bearer(root)
            )
            assert promoted.status_code == 200
        identities = {
            role: LogIn("/auth/login", {"email": f"{role}@example.com", "password": PASSWORD})
            for role in ("customer", "creator")
        }
        identities["admin"] = LogIn("/auth/login", {"email": "root@example.com", "password": PASSWORD})
        return run_schemathesis(
            url,
            tokens=identities,
            headers={"Origin": TRUSTED_ORIGIN},
            allowed=REFUSALS,
            max_examples=EXAMPLES,
        )


def _log_in(client: httpx.Client, email: str) -> str:
    answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mailed_token(folder: Path, to: str, path: str, timeout_s: float = 10) -> str:
    """The token of the link to `path` mailed to `to` (the mail goes out just after the answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for mail in folder.glob("*.eml"):
            message = email.message_from_bytes(mail.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found = re.search(re.escape(path) + r"#token=([A-Za-z0-9_\-]+)", text)
            if found and to in str(message["To"]):
                return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} with a {path} link in {folder}")
