"""Structured logging for every service: structlog for our code, stdlib records through the same output.

`configure_logging()` once at start-up; then `structlog.stdlib.get_logger(__name__)` anywhere.
Context bound with `structlog.contextvars.bind_contextvars(request_id=..., correlation_id=...)`
appears on every line, including lines from uvicorn, aio-pika and asyncpg. Secrets never reach
the output: `redact_secrets` masks them by key and inside strings (presigned URL signatures,
Bearer tokens, URL passwords, JWTs, Stripe keys).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

import msgspec
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

if TYPE_CHECKING:
    from codex_platform.settings import BaseSettings

__all__ = ["REDACTED", "configure_logging", "configure_logging_from", "redact_secrets", "redact_text"]

REDACTED = "[REDACTED]"

# A key is sensitive when its normalised name contains one of these words.
_SENSITIVE_KEY_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
    "signature",
    "credential",
    "csrf",
)

# (pattern, replacement) applied to every string in the event; group 1 is the part that is kept.
_TEXT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # SigV4 presigned query (X-Amz-*), SigV4 Authorization header (Credential=, Signature=),
    # SigV2 presigned query (Signature=): the path stays readable, the proof of access goes.
    (
        re.compile(
            r"\b((?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|Credential)=)"
            r"[^&\s\"',;]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"([?&;](?:token|access_token|refresh_token|id_token|api_key|apikey|password|secret"
            r"|client_secret|sig)=)[^&\s\"'#]+",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"\b((?:Bearer|Basic)\s+)[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE), rf"\1{REDACTED}"),
    # The password of scheme://user:password@host (database and broker URLs).
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), REDACTED),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+|\bwhsec_[A-Za-z0-9]+"), REDACTED),
)

_MAX_DEPTH = 12
# Keys that structlog itself owns; their values are still scrubbed as text, never dropped.
_NEVER_SENSITIVE = frozenset({"event", "logger", "level", "timestamp", "service", "exception"})


def redact_text(text: str) -> str:
    """Mask secrets inside a free-form string (URLs, headers, exception messages)."""
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def _is_sensitive_key(key: object) -> bool:
    name = str(key).lower().replace("-", "_")
    return name not in _NEVER_SENSITIVE and any(word in name for word in _SENSITIVE_KEY_WORDS)


def _scrub(value: Any, depth: int = 0) -> Any:
    """A redacted copy of `value`; the caller's objects are never mutated."""
    if depth > _MAX_DEPTH:
        return "[...]"
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_sensitive_key(k) else _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, msgspec.Struct):
        return _scrub(msgspec.structs.asdict(value), depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _scrub(fields, depth)
    if isinstance(value, list | tuple | set | frozenset):
        # Header lists come as (name, value) pairs: ("authorization", "Bearer ...").
        if isinstance(value, tuple) and len(value) == 2 and _is_sensitive_key(value[0]):
            return (value[0], REDACTED)
        items = [_scrub(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    # Anything else would be rendered by repr(); scrub that text instead of trusting the object.
    return redact_text(repr(value))


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secret values by key and inside every string, recursively."""
    return {key: REDACTED if _is_sensitive_key(key) else _scrub(value) for key, value in event_dict.items()}


def _service_adder(service: str | None) -> Processor:
    def add_service(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        if service is not None:
            event_dict.setdefault("service", service)
        return event_dict

    return add_service


def configure_logging(
    level: str | int = "INFO",
    fmt: Literal["json", "console"] = "console",
    *,
    service: str | None = None,
    stream: TextIO | None = None,
) -> None:
    """Send structlog and stdlib logging through one redacting renderer.

    `fmt="json"` writes one JSON object a line (production); `"console"` writes readable lines
    (development). Every line carries `service`, the level, the logger name, an ISO timestamp and
    whatever is bound in `structlog.contextvars`. Safe to call again: it replaces its own handler.
    Run uvicorn with `log_config=None` so that its loggers propagate here.
    """
    numeric_level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _service_adder(service),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            # Tracebacks become text before redaction, so exception messages are scrubbed too.
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(formatter)
    handler.set_name("codex")

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "codex"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # uvicorn installs its own handlers, levels and stops propagation (and a dictConfig elsewhere may
    # disable loggers); undo that so their lines are ours, filtered by the root level alone.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "aio_pika", "aiormq", "asyncpg"):
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
        library_logger.disabled = False
        library_logger.setLevel(logging.NOTSET)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.dev.set_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging_from(settings: BaseSettings, service: str) -> None:
    """`configure_logging` with the settings' `log_level` and (effective) `log_format`."""
    configure_logging(settings.log_level, settings.effective_log_format, service=service)
