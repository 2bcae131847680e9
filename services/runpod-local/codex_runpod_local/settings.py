"""Settings of the local RunPod endpoint, read from CODEX_RUNPOD_LOCAL_* (defaults suit `make dev`)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

PREFIX = "CODEX_RUNPOD_LOCAL_"
DEFAULT_ENDPOINT = "codex-transcode"
DEFAULT_WORKER_COMMAND = "gpu/.venv/bin/python -m codex_gpu"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8010
    # RunPod keys are sent as `Bearer <key>` by API clients and bare by the SDK's worker loop.
    api_key: str = "local-dev-key"
    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)

    # Cloud defaults: /run results live 30 min, /runsync results 1 min, then /status answers 404.
    retention_s: float = 1800.0
    sync_retention_s: float = 60.0
    runsync_wait_s: float = 90.0
    runsync_max_wait_s: float = 300.0

    # policy: the cloud's defaults and bounds (executionTimeout > 5 s, 10 s <= ttl <= 1 week).
    default_execution_timeout_ms: int = 600_000
    min_execution_timeout_ms: int = 5_000
    default_ttl_ms: int = 86_400_000
    min_ttl_ms: int = 10_000
    max_ttl_ms: int = 7 * 86_400_000

    # "If the call fails, RunPod will retry up to 2 more times with a 10-second delay."
    webhook_attempts: int = 3
    webhook_interval_s: float = 10.0
    webhook_timeout_s: float = 10.0

    # how long job-take and job-stop hold a worker's poll open before answering 204
    worker_poll_wait_s: float = 5.0
    # a worker seen (poll, ping or result) within this window counts in /health
    worker_seen_window_s: float = 30.0
    sweep_interval_s: float = 0.5

    workers: int = 1
    worker_command: tuple[str, ...] = tuple(shlex.split(DEFAULT_WORKER_COMMAND))
    worker_endpoint: str = ""  # the endpoint the spawned workers serve; the first one when empty
    public_url: str = ""  # the base URL workers use to reach this server; http://127.0.0.1:<port> when empty
    worker_ping_interval_ms: int = 10_000
    worker_env: Mapping[str, str] = field(default_factory=dict)

    # fault rules installed at start (same JSON as POST /_admin/faults, as a list)
    faults: tuple[dict[str, Any], ...] = ()

    @property
    def served_endpoint(self) -> str:
        return self.worker_endpoint or self.endpoints[0]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        defaults = cls()
        for name, default in vars(defaults).items():
            raw = env.get(PREFIX + name.upper())
            if raw is None:
                continue
            values[name] = _parse(name, raw, default)
        if "api_key" not in values and env.get("RUNPOD_API_KEY"):
            values["api_key"] = env["RUNPOD_API_KEY"]
        if "port" not in values and env.get("PORT"):
            values["port"] = int(env["PORT"])
        settings = cls(**values)
        if not settings.endpoints:
            raise ValueError(f"{PREFIX}ENDPOINTS names no endpoint")
        if settings.worker_endpoint and settings.worker_endpoint not in settings.endpoints:
            raise ValueError(f"{PREFIX}WORKER_ENDPOINT {settings.worker_endpoint!r} is not in ENDPOINTS")
        return settings


def _parse(name: str, raw: str, default: Any) -> Any:
    if name == "endpoints":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name == "worker_command":
        return tuple(shlex.split(raw))
    if name == "worker_env":
        return dict(msgspec.json.decode(raw.encode()))
    if name == "faults":
        rules = msgspec.json.decode(raw.encode())
        return tuple(rules if isinstance(rules, list) else [rules])
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
