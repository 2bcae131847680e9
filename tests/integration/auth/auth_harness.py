"""Drive a running auth service like its users would: over HTTP, reading the mails it writes."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from codex_auth.deps import Deps
from codex_auth.settings import AuthSettings

PASSWORD = "correct horse battery"
TRUSTED_ORIGIN = "http://localhost:8080"
# Cheap argon2 parameters: the tests are about the rules, not the cost (the bench measures that).
CHEAP_HASHES: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


class AuthHarness:
    """One running auth service and what a test needs to drive it like a user would."""

    def __init__(self, app: Litestar, url: str, settings: AuthSettings, mail_folder: Path) -> None:
        self.app = app
        self.url = url
        self.settings = settings
        self.mail_folder = mail_folder
        self._clients: list[httpx.AsyncClient] = []

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client of the service (closed with the harness)."""
        client = httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def sign_up(
        self, client: httpx.AsyncClient, email: str, password: str = PASSWORD, name: str = "Ada"
    ) -> httpx.Response:
        body = {"email": email, "password": password, "display_name": name}
        return await client.post("/auth/signup", json=body)

    async def log_in(self, client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
        return await client.post("/auth/login", json={"email": email, "password": password})

    async def confirm_address(self, client: httpx.AsyncClient, email: str) -> None:
        """Open the latest verification link mailed to `email`, as its owner would."""
        token = await self.link_token(email, "/verify-email")
        response = await client.post("/auth/verify-email/confirm", json={"token": token})
        assert response.status_code == 204, response.text

    async def sign_up_confirmed(
        self, client: httpx.AsyncClient, email: str, password: str = PASSWORD, name: str = "Ada"
    ) -> httpx.Response:
        """Sign up and confirm the address through the mailed link: an account that may log in."""
        response = await self.sign_up(client, email, password, name)
        assert response.status_code == 202, response.text
        await self.confirm_address(client, email)
        return response

    async def account(self, email: str, password: str = PASSWORD) -> tuple[httpx.AsyncClient, str]:
        """A signed-up, confirmed, signed-in user: a client with the session cookie, and an access token."""
        client = self.client(headers={"Origin": TRUSTED_ORIGIN})
        await self.sign_up_confirmed(client, email, password)
        response = await self.log_in(client, email, password)
        assert response.status_code == 200, response.text
        return client, response.json()["access_token"]

    async def mails(self, to: str | None = None) -> list[EmailMessage]:
        """Every mail sent so far (oldest first), after the work and mails still in flight are done."""
        await self.deps.background.drain()
        await self.deps.mail.drain()
        messages = []
        for path in sorted(self.mail_folder.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            if to is None or message["To"] == to:
                messages.append(message)
        return messages

    async def link_token(self, to: str, path: str) -> str:
        """The token of the latest mailed link to `path` (e.g. /verify-email) sent to `to`."""
        for message in reversed(await self.mails(to)):
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(re.escape(path) + r"#token=([A-Za-z0-9_\-]+)", body.get_content())
            if found:
                return found.group(1)
        raise AssertionError(f"no mail to {to} with a {path} link")

    async def sql(self, query: str, *args: Any) -> Any:
        async with self.deps.pool.acquire() as conn:
            return await conn.fetch(query, *args)
