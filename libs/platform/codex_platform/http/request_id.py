"""Request ids: taken from the caller when sane, generated otherwise, kept in the ASGI scope."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# Kept in scope["state"], so handlers read it as request.state.request_id.
REQUEST_ID_STATE_KEY = "request_id"
_ORIGINAL_PATH_STATE_KEY = "codex_original_path"

# A caller's id ends up in our logs and headers: no spaces, quotes or control characters that could
# forge log lines or split headers, and a bounded length.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_HEADER_NAME = REQUEST_ID_HEADER.lower().encode("latin-1")


def new_request_id() -> str:
    """Generate a fresh request id (32 hex characters)."""
    return uuid.uuid4().hex


def is_sane_request_id(value: str) -> bool:
    """Whether a caller-supplied request id may be reused as is."""
    return _SANE_REQUEST_ID.fullmatch(value) is not None


def request_id_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a new id."""
    for name, value in headers:
        if name.lower() == _HEADER_NAME:
            candidate = value.decode("latin-1")
            return candidate if is_sane_request_id(candidate) else new_request_id()
    return new_request_id()


def establish_request_id(scope: Any) -> str:
    """Resolve the request id of ``scope`` once and remember it (and the original path) there."""
    state: dict[str, Any] = scope.setdefault("state", {})
    request_id = state.get(REQUEST_ID_STATE_KEY)
    if not isinstance(request_id, str):
        request_id = request_id_from_headers(scope.get("headers", ()))
        state[REQUEST_ID_STATE_KEY] = request_id
        # Litestar rewrites scope["path"] while routing (mounts); keep what the client asked for.
        state.setdefault(_ORIGINAL_PATH_STATE_KEY, scope.get("path", ""))
    return request_id


def request_id_of(scope: Any) -> str:
    """The request id of the request in ``scope`` (established on first use)."""
    return establish_request_id(scope)


def request_path_of(scope: Any) -> str:
    """The path the client requested, without the query string."""
    establish_request_id(scope)
    path = scope["state"].get(_ORIGINAL_PATH_STATE_KEY)
    return path if isinstance(path, str) else str(scope.get("path", ""))
