"""The mails auth sends. Links carry their token in the URL fragment (after #): browsers never send
a fragment to a server, so the token stays out of access logs, proxies and Referer headers."""

from __future__ import annotations

from codex_platform.mail import Mail


def _greeting(display_name: str | None) -> str:
    return f"Hello {display_name}," if display_name else "Hello,"


def verification_mail(to: str, display_name: str, token: str, app_url: str, ttl_minutes: int) -> Mail:
    link = f"{app_url}/verify-email#token={token}"
    text = (
        f"{_greeting(display_name)}\n\n"
        f"Confirm that this is your address by opening this link within {ttl_minutes} minutes:\n\n"
        f"{link}\n\nIf you did not create a Codex account, ignore this mail.\n"
    )
    return Mail(to=to, subject="Confirm your email address", text=text)


def reset_mail(to: str, display_name: str, token: str, app_url: str, ttl_minutes: int) -> Mail:
    link = f"{app_url}/reset-password#token={token}"
    text = (
        f"{_greeting(display_name)}\n\n"
        f"Choose a new password by opening this link within {ttl_minutes} minutes:\n\n{link}\n\n"
        "Setting a new password signs you out everywhere. If you did not ask for this, ignore this mail: "
        "your password stays as it is.\n"
    )
    return Mail(to=to, subject="Reset your password", text=text)


def signup_attempt_mail(to: str, display_name: str, app_url: str) -> Mail:
    # The sign-up answer is the same whether or not the address has an account (no enumeration), so
    # the owner of the address learns here what happened, and nobody else learns anything.
    text = (
        f"{_greeting(display_name)}\n\n"
        "Someone tried to create a Codex account with this address, which already has one.\n"
        f"If it was you, sign in at {app_url}/login, or reset your password at {app_url}/reset-password.\n"
        "If it was not you, nothing has changed and you need not do anything.\n"
    )
    return Mail(to=to, subject="Someone tried to sign up with your address", text=text)
