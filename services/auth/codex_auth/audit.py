"""The security audit trail: one structured log line per security-relevant change (ASVS V7).

Who did it (`actor_id`), to whom (`user_id`), what (`action`), and from where (`client_ip`), with
plain details; never a password, hash, token or key. Operators filter on `event=security_event`.
"""

from __future__ import annotations

import uuid

import structlog

Detail = str | int | bool | None


def security_event(
    action: str,
    *,
    user_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    client_ip: str | None = None,
    **details: Detail,
) -> None:
    """Log one security event; `details` must never carry a secret."""
    # A logger per call, not one cached at import: these lines are rare, and so a capture set up
    # later (an operator's handler, a test) sees every one of them.
    structlog.get_logger("codex.auth.security").warning(
        "security_event",
        action=action,
        user_id=None if user_id is None else str(user_id),
        actor_id=None if actor_id is None else str(actor_id),
        client_ip=client_ip,
        **details,
    )
