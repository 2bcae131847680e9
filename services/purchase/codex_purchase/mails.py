"""The receipt mailed when a purchase completes."""

from __future__ import annotations

from codex_platform.mail import Mail


def receipt_mail(
    *,
    to: str,
    display_name: str,
    purchase_id: str,
    title: str,
    amount_cents: int,
    currency: str,
    app_url: str,
) -> Mail:
    amount = f"{amount_cents / 100:.2f} {currency.upper()}"
    greeting = f"Hello {display_name}," if display_name else "Hello,"
    text = (
        f"{greeting}\n\nThank you for your purchase.\n\n"
        f"  {title or 'Content'}\n  Amount paid: {amount}\n  Purchase: {purchase_id}\n\n"
        f"Watch it at {app_url}/purchases/{purchase_id}\n"
    )
    # The key makes a retried send one mail at Resend.
    return Mail(to=to, subject="Your Codex receipt", text=text, idempotency_key=f"receipt-{purchase_id}")
