"""Typed settings read from the environment, with defaults for local use.

A service declares its settings as a msgspec Struct that extends `BaseSettings` and loads them once
at start-up::

    class AuthSettings(BaseSettings, frozen=True, kw_only=True):
        port: Port = 8001
        access_token_ttl_seconds: int = 900

    settings = settings_or_exit(AuthSettings, prefix="CODEX_AUTH_")

Each field `some_name` is read from `CODEX_AUTH_SOME_NAME` first, then from the conventional
`SOME_NAME` (`DATABASE_URL`, `AMQP_URL`, `STRIPE_SECRET_KEY`, ...), else its default applies.
Strings are converted by the field's type; a bad value is one line naming the variable.
"""

from __future__ import annotations

import os
import re
import sys
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import msgspec
from msgspec import inspect as mi

__all__ = [
    "BaseSettings",
    "Environment",
    "LogFormat",
    "LogLevel",
    "Port",
    "SettingsError",
    "Url",
    "load_settings",
    "settings_or_exit",
]

Url = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z0-9+.\-]*://\S+$", description="a URL")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535, description="a port number (1-65535)")]
Environment = Literal["development", "production", "test"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "console"]

S = TypeVar("S", bound=msgspec.Struct)

_SECRET_WORDS = ("secret", "password", "token", "key", "credential")
_URL_PASSWORD = re.compile(r"([^:/@\s]*:)[^:/@\s]*@")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(Exception):
    """A setting is missing or malformed; `str(error)` is one line naming the variable."""


class BaseSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The settings every service shares; defaults point at the local development services."""

    environment: Environment = "development"
    log_level: LogLevel = "INFO"
    log_format: LogFormat | None = None
    host: str = "127.0.0.1"
    port: Port = 8000
    cors_origins: list[str] = []
    database_url: Url = "postgresql://postgres@127.0.0.1:5432/postgres"
    amqp_url: Url = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: Url = "redis://127.0.0.1:6379/0"
    s3_endpoint_url: Url | None = None
    # Where clients reach S3 when that differs from where services do (compose: minio:9000 for
    # services, localhost:9000 for a browser); presigned URLs are signed for this host.
    s3_public_endpoint_url: Url | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "codex"

    @property
    def effective_log_format(self) -> LogFormat:
        """`log_format` if set, else JSON in production and readable console output elsewhere."""
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "console"


def load_settings(cls: type[S], prefix: str = "", environ: Mapping[str, str] | None = None) -> S:
    """Build `cls` from the environment (`os.environ` unless `environ` is given).

    Field `name` is read from `<prefix><NAME>` then `<NAME>`; absent fields keep their defaults.
    Raises `SettingsError` (one line: the variable and what is wrong) for a missing required
    setting or a value that does not convert to the field's type.
    """
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls, include_extras=True)
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    values: dict[str, Any] = {}
    for field in info.fields:
        names = _variable_names(prefix, field.name)
        found = next(((n, env[n]) for n in names if n in env), None)
        if found is None:
            if field.required:
                raise SettingsError(f"{names[0]}: required but not set")
            continue
        variable, raw = found
        try:
            values[field.name] = _convert(raw, hints[field.name], field.type)
        except msgspec.ValidationError:
            shown = _shown(field.name, raw)
            raise SettingsError(f"{variable}: expected {_describe(field.type)}, got {shown}") from None
    try:
        return msgspec.convert(values, cls)
    except msgspec.ValidationError as exc:
        # Only cross-field checks in a Struct's __post_init__ can fail here.
        raise SettingsError(f"{prefix or 'settings'}: {exc}") from None


def settings_or_exit(cls: type[S], prefix: str = "", environ: Mapping[str, str] | None = None) -> S:
    """`load_settings`, but a bad setting prints its one line to stderr and exits with status 2."""
    try:
        return load_settings(cls, prefix, environ)
    except SettingsError as exc:
        _exit(str(exc))


def _exit(message: str) -> NoReturn:
    print(f"configuration error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _shown(field_name: str, raw: str) -> str:
    """The bad value as the error may show it: never a secret, nor a password inside a URL."""
    if any(word in field_name for word in _SECRET_WORDS):
        return f"a value of {len(raw)} characters (hidden)"
    return repr(_URL_PASSWORD.sub(r"\1***@", raw))


def _variable_names(prefix: str, field_name: str) -> list[str]:
    conventional = field_name.upper()
    return [prefix + conventional, conventional] if prefix else [conventional]


def _convert(raw: str, hint: Any, info: mi.Type) -> Any:
    """Convert one environment string to the field's type."""
    base = _unwrap(info)
    if isinstance(base, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in base.types):
        if raw.strip() == "":
            return None
        base = next(_unwrap(t) for t in base.types if not isinstance(t, mi.NoneType))
    value: Any = raw.strip()
    if isinstance(base, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        # A JSON array for values that contain commas, else a comma-separated list.
        if value.startswith("["):
            value = msgspec.json.decode(value)
        else:
            value = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(base, mi.BoolType):
        lowered = value.lower()
        value = True if lowered in _TRUE else False if lowered in _FALSE else value
    elif isinstance(base, mi.LiteralType):
        # Case-insensitive for string choices, so LOG_LEVEL=info works.
        matches = [v for v in base.values if isinstance(v, str) and v.lower() == value.lower()]
        value = matches[0] if matches else value
    return msgspec.convert(value, hint, strict=False)


def _unwrap(info: mi.Type) -> mi.Type:
    return info.type if isinstance(info, mi.Metadata) else info


def _describe(info: mi.Type) -> str:
    """A human phrase for what a field accepts, e.g. 'an integer >= 1'."""
    if isinstance(info, mi.Metadata):
        description = (info.extra_json_schema or {}).get("description")
        if description:
            return str(description)
        info = info.type
    if isinstance(info, mi.UnionType):
        return " or ".join(_describe(t) for t in info.types if not isinstance(t, mi.NoneType))
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(repr(v) for v in info.values)
    if isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return f"a comma-separated list (each {_describe(info.item_type)})"
    phrase = {
        mi.IntType: "an integer",
        mi.FloatType: "a number",
        mi.BoolType: "a boolean (true/false, 1/0, yes/no, on/off)",
        mi.StrType: "a string",
    }.get(type(info), type(info).__name__)
    operators = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
    limits = [f"{op} {getattr(info, k)}" for k, op in operators if getattr(info, k, None) is not None]
    pattern = getattr(info, "pattern", None)
    if pattern:
        limits.append(f"matching {pattern!r}")
    return " ".join([phrase, *limits])
