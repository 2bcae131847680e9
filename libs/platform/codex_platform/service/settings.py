"""`ServiceSettings`: what every service derives from its name, so its own settings add only its fields.

    class CatalogSettings(ServiceSettings, frozen=True, kw_only=True):
        service: ClassVar[str] = "catalog"
        port: Port = 8002
        playback_url_ttl_s: int = 300

    settings = CatalogSettings.load()      # CODEX_CATALOG_<NAME>, then <NAME>, then the default

The database schema, the Redis key prefix and the variable prefix follow from `service`; tests give
each run its own `db_schema`, `redis_prefix` and `bus_prefix`.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

import msgspec

from codex_platform.settings import BaseSettings, Port, Url, settings_or_exit

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings, frozen=True, kw_only=True):
    """The platform's settings plus the namespaces and token verification every service has."""

    service: ClassVar[str] = ""
    development_fields: ClassVar[tuple[str, ...]] = ()
    """Fields whose defaults suit only a developer's machine (a public secret, mail to a folder)."""

    db_schema: str = ""
    """Postgres schema of this service's tables (default: the service's name, '-' as '_')."""
    redis_prefix: str = ""
    """Prefix of this service's Redis keys (default: `codex:<service>:`)."""
    bus_prefix: str = ""
    """Prefix of every exchange and queue name (tests isolate runs with it)."""

    # The gateway's origin in development; CSRF checks trust exactly the origins CORS allows.
    cors_origins: list[str] = msgspec.field(
        default_factory=lambda: ["http://localhost:8080", "http://127.0.0.1:8080"]
    )
    jwks_url: Url = "http://127.0.0.1:8001/.well-known/jwks.json"
    """Where the auth service publishes the keys that sign access tokens."""
    jwt_issuer: str = "urn:codex:auth"
    jwt_audience: str = "codex"
    worker_metrics_port: Port | None = None
    """Where the worker serves /metrics (its relay, consumers and dead-letter gauges); none when unset."""
    inbox_retention_days: Annotated[int, msgspec.Meta(ge=1)] = 14
    """How long handled message ids are kept: longer than a dead letter may wait for its replay."""
    jwt_leeway_s: Annotated[int, msgspec.Meta(ge=0)] = 30
    """Clock skew that token verifiers tolerate."""

    def __post_init__(self) -> None:
        if not self.service:
            raise TypeError(f"{type(self).__name__} must set `service: ClassVar[str]`")
        if not self.db_schema:
            msgspec.structs.force_setattr(self, "db_schema", self.service.replace("-", "_"))
        if not self.redis_prefix:
            msgspec.structs.force_setattr(self, "redis_prefix", f"codex:{self.service}:")

    def development_defaults(self) -> list[str]:
        """The development-only defaults in effect: `environment` when it is the default, then each
        of `development_fields` still at its default value (names only, never a value)."""
        defaults = {f.name: f.default for f in msgspec.structs.fields(self)}
        names = ["environment", *self.development_fields]
        return [name for name in names if getattr(self, name) == defaults.get(name, msgspec.NODEFAULT)]

    @classmethod
    def env_prefix(cls) -> str:
        """`CODEX_<SERVICE>_`: the prefix of this service's own variables."""
        return f"CODEX_{cls.service.upper().replace('-', '_')}_"

    @classmethod
    def load(cls) -> Self:
        """Read the settings from the environment; a bad value prints one line and exits with status 2."""
        return settings_or_exit(cls, prefix=cls.env_prefix())
