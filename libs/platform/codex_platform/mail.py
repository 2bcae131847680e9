"""The mailer port: Resend's HTTP API in production, a folder of .eml files in development.

    mailer = mailer_for(environment=settings.environment, resend_api_key=settings.resend_api_key,
                        sender="Codex <no-reply@codex.example>", folder=Path(".dev/mail"))
    await mailer.send(Mail(to="ada@example.com", subject="Verify your address", text=body))

A mail may carry a secret (a sign-in or reset link): its content never reaches a log line. The
folder mailer logs where it wrote the file, which is how a developer opens the link.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import httpx
import structlog

__all__ = [
    "BackgroundMailer",
    "FolderMailer",
    "Mail",
    "MailDeliveryError",
    "Mailer",
    "ResendMailer",
    "mailer_for",
]

RESEND_API_URL = "https://api.resend.com"

_log = structlog.get_logger("codex.mail")


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    idempotency_key: str | None = None
    """Resend sends a mail with the same key only once within 24 hours (safe retries)."""


class MailDeliveryError(Exception):
    """The provider refused or could not take the mail; the message never quotes the mail or key."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...

    async def aclose(self) -> None: ...


class ResendMailer:
    """Send through Resend (`POST /emails`, https://resend.com/docs/api-reference/emails/send-email)."""

    def __init__(
        self,
        api_key: str,
        sender: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        base_url: str = RESEND_API_URL,
        timeout_s: float = 10.0,
    ) -> None:
        self.sender = sender
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout_s)
        self._url = base_url.rstrip("/") + "/emails"
        self._headers = {"Authorization": f"Bearer {api_key}"}

    async def send(self, mail: Mail) -> None:
        payload: dict[str, object] = {"from": self.sender, "to": [mail.to], "subject": mail.subject}
        payload["text"] = mail.text
        if mail.html is not None:
            payload["html"] = mail.html
        headers = dict(self._headers)
        if mail.idempotency_key:
            headers["Idempotency-Key"] = mail.idempotency_key
        try:
            response = await self._http.post(self._url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise MailDeliveryError(f"Resend unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            # Resend's error body names the problem (invalid sender, rate limit); it holds no secret.
            raise MailDeliveryError(f"Resend answered {response.status_code}: {response.text[:300]}")
        _log.info("mail_sent", provider="resend", subject=mail.subject, provider_id=response.json().get("id"))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()


class FolderMailer:
    """Write each mail as an RFC 5322 .eml file (any mail client opens it) and log its path."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain="codex.localhost")
        message.set_content(mail.text)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        slug = re.sub(r"[^a-z0-9]+", "-", mail.subject.lower()).strip("-")[:40]
        path = self.folder / f"{stamp}-{slug}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes())
        _log.info("mail_written", path=str(path.resolve()), subject=mail.subject)

    def _write(self, path: Path, content: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Write then rename, so whoever watches the folder never reads half a mail.
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.rename(path)

    async def aclose(self) -> None:
        return None


class BackgroundMailer:
    """Send mails after the caller has moved on, so that sending takes no time out of a response.

    Besides latency, this is about what a response's timing reveals: "if that address has an account,
    mail it" must answer as fast for an unknown address as for a known one. A failed delivery is
    logged (the subject, never the content); `drain()` waits for every mail in flight.
    """

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self._in_flight: set[asyncio.Task[None]] = set()

    def send_soon(self, mail: Mail) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(mail))
        # The loop only keeps weak references to tasks: hold each one until it is done.
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, mail: Mail) -> None:
        try:
            await self.mailer.send(mail)
        except Exception as exc:
            _log.error("mail_not_sent", subject=mail.subject, error_type=type(exc).__name__, error=str(exc))

    async def drain(self) -> None:
        """Wait until every mail handed over so far is sent or has failed."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        await self.mailer.aclose()


def mailer_for(*, environment: str, resend_api_key: str | None, sender: str, folder: Path) -> Mailer:
    """Resend when a key is configured; else the folder, except in production, where that is an error."""
    if resend_api_key:
        return ResendMailer(resend_api_key, sender)
    if environment == "production":
        raise ValueError("RESEND_API_KEY is required in production: mail would otherwise go nowhere")
    return FolderMailer(folder, sender)
