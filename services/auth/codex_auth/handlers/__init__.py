"""Command handlers: plain async functions `(command, *, deps)`. No HTTP here: http.py and cli.py
translate their transport into these calls, and tests call them directly."""

from codex_auth.handlers.accounts import change_role, create_admin, register, send_verification, sign_up
from codex_auth.handlers.recovery import (
    change_password,
    confirm_email,
    request_email_verification,
    request_password_reset,
    reset_password,
)
from codex_auth.handlers.sessions import (
    SessionGrant,
    caller_from_access_token,
    caller_from_session_token,
    grant,
    list_sessions,
    log_in,
    log_out,
    open_session,
    refresh,
    revoke_other_sessions,
    revoke_session,
    verify_password,
)

__all__ = [
    "SessionGrant",
    "caller_from_access_token",
    "caller_from_session_token",
    "change_password",
    "change_role",
    "confirm_email",
    "create_admin",
    "grant",
    "list_sessions",
    "log_in",
    "log_out",
    "open_session",
    "refresh",
    "register",
    "request_email_verification",
    "request_password_reset",
    "reset_password",
    "revoke_other_sessions",
    "revoke_session",
    "send_verification",
    "sign_up",
    "verify_password",
]
