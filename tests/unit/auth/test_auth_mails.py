"""Mailed links carry their token where no server sees it."""

from __future__ import annotations

from codex_auth.mails import reset_mail, signup_attempt_mail, verification_mail


def test_links_carry_the_token_in_the_fragment() -> None:
    mail = verification_mail("ada@example.com", "Ada", "tok-123", "https://app.example", 60)
    assert "https://app.example/verify-email#token=tok-123" in mail.text
    assert "?token=" not in mail.text and "60 minutes" in mail.text
    reset = reset_mail("ada@example.com", "Ada", "tok-456", "https://app.example", 60)
    assert "https://app.example/reset-password#token=tok-456" in reset.text


def test_the_sign_up_attempt_mail_holds_no_token() -> None:
    mail = signup_attempt_mail("ada@example.com", "Ada", "https://app.example")
    assert "#token=" not in mail.text and "already has one" in mail.text
