"""What a dead letter says about why it failed: error type, message, where, and a fingerprint.

The fingerprint groups failures that have one cause: the exception's type and the function it was
raised in (module and qualified name, not the line, so that an unrelated edit to the file does not
split a group in two).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import TracebackType

from codex_platform.logging import redact_text

__all__ = ["Failure"]

# A dead letter's headers must stay small and never carry a whole request dump.
_MAX_MESSAGE_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure of a message: enough to group it, read it and find the code that raised it."""

    error_type: str
    message: str
    location: str
    fingerprint: str

    @classmethod
    def of(cls, error_type: str, message: str, location: str) -> Failure:
        """A failure that is not an exception (a retry asked for, a crash loop)."""
        clean = redact_text(message)
        if len(clean) > _MAX_MESSAGE_CHARS:
            clean = clean[: _MAX_MESSAGE_CHARS - 1] + "…"
        function = location.rsplit(":", 1)[0] if location.count(":") >= 2 else location
        digest = hashlib.sha256(f"{error_type}|{function}".encode()).hexdigest()[:16]
        return cls(error_type=error_type, message=clean, location=location, fingerprint=digest)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        """The failure an exception describes; its location is the innermost frame of its traceback."""
        kind = type(exc)
        module = kind.__module__
        error_type = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
        return cls.of(error_type, str(exc) or error_type, _location(exc.__traceback__))


def _location(tb: TracebackType | None) -> str:
    if tb is None:
        return "unknown"
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    module = frame.f_globals.get("__name__", "?")
    return f"{module}:{frame.f_code.co_qualname}:{tb.tb_lineno}"
