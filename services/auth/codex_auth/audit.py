"""The security audit trail: one structured log line per security-relevant change (ASVS V7).

Who did it (`actor_id`), to whom (`user_id`), what (`action`), and from where (`client_ip`), with
plain details; never a password, hash, token or key. Operators filter on `event=security_event`.
"""

from __future__ import annotations

import uuid

import structlog

_log = structlog.get_logger("codex.auth.security")

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
    _log.warning(
        "security_event",
        action=action,
        user_id=None if user_id is None else str(user_id),
        actor_id=None if actor_id is None else str(actor_id),
        client_ip=client_ip,
        **details,
    )
