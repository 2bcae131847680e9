"""The mailer port: Resend over HTTP, .eml files in a folder, sending in the background."""

from __future__ import annotations

import email
import json
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
import structlog

from codex_platform.mail import (
    BackgroundMailer,
    FolderMailer,
    Mail,
    MailDeliveryError,
    ResendMailer,
    mailer_for,
)

MAIL = Mail(to="ada@example.com", subject="Reset your password", text="Open https://x/#token=secret-token")


async def test_resend_gets_the_mail_with_the_key_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def resend(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "49a3999c"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(resend)) as client:
        mailer = ResendMailer("re_test_key", "Codex <no-reply@codex.example>", http_client=client)
        await mailer.send(
            Mail(to=MAIL.to, subject=MAIL.subject, text=MAIL.text, html="<p>hi</p>", idempotency_key="k1")
        )
    [request] = seen
    assert str(request.url) == "https://api.resend.com/emails"
    assert request.headers["authorization"] == "Bearer re_test_key"
    assert request.headers["idempotency-key"] == "k1"
    assert json.loads(request.content) == {
        "from": "Codex <no-reply@codex.example>",
        "to": ["ada@example.com"],
        "subject": "Reset your password",
        "text": MAIL.text,
        "html": "<p>hi</p>",
    }


async def test_a_refusal_from_resend_is_an_error_without_the_key() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(422, json={"message": "Invalid `from` field."}))
    async with httpx.AsyncClient(transport=transport) as client:
        mailer = ResendMailer("re_test_key", "nobody", http_client=client)
        with pytest.raises(MailDeliveryError) as refused:
            await mailer.send(MAIL)
    assert "422" in str(refused.value) and "re_test_key" not in str(refused.value)


async def test_the_folder_mailer_writes_an_eml_and_logs_only_its_path(tmp_path: Path) -> None:
    mailer = FolderMailer(tmp_path / "mail", "Codex <no-reply@codex.localhost>")
    with structlog.testing.capture_logs() as logs:
        await mailer.send(MAIL)
    [path] = list((tmp_path / "mail").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert (message["To"], message["Subject"]) == ("ada@example.com", "Reset your password")
    assert "secret-token" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [line] = [entry for entry in logs if entry["event"] == "mail_written"]
    assert line["path"] == str(path.resolve())
    assert "secret-token" not in repr(logs)


async def test_background_mails_are_sent_after_the_caller_moves_on(tmp_path: Path) -> None:
    class Failing:
        async def send(self, mail: Mail) -> None:
            raise MailDeliveryError("provider down")

        async def aclose(self) -> None:
            pass

    folder = BackgroundMailer(FolderMailer(tmp_path, "x"))
    folder.send_soon(MAIL)
    await folder.drain()
    assert len(list(tmp_path.glob("*.eml"))) == 1

    failing = BackgroundMailer(Failing())
    with structlog.testing.capture_logs() as logs:
        failing.send_soon(MAIL)
        await failing.aclose()
    [line] = logs
    assert line["event"] == "mail_not_sent" and line["subject"] == MAIL.subject
    assert "secret-token" not in repr(logs)


def test_production_without_a_resend_key_is_refused(tmp_path: Path) -> None:
    def make(environment: str, key: str | None) -> object:
        return mailer_for(environment=environment, resend_api_key=key, sender="x", folder=tmp_path)

    assert isinstance(make("development", None), FolderMailer)
    assert isinstance(make("production", "re_x"), ResendMailer)
    with pytest.raises(ValueError, match="RESEND_API_KEY"):
        make("production", None)
