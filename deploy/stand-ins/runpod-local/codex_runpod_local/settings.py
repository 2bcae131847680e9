"""Settings of the local RunPod endpoint: CODEX_RUNPOD_LOCAL_<NAME> (then <NAME>, see
codex_platform.settings); the defaults suit `make dev`."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import msgspec

from codex_platform.service import ServiceSettings
from codex_platform.settings import Port, SettingsError, load_settings, settings_or_exit

PREFIX = "CODEX_RUNPOD_LOCAL_"
DEFAULT_ENDPOINT = "codex-transcode"


class Settings(ServiceSettings, frozen=True, kw_only=True):
    service: ClassVar[str] = "runpod-local"
    port: Port = 8010
    # RunPod keys are sent as `Bearer <key>` by API clients and bare by the SDK's worker loop.
    # RUNPOD_API_KEY (what the services send) is the fallback, so one variable serves both ends.
    api_key: str = "local-dev-key"
    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)

    # Cloud defaults: /run results live 30 min, /runsync results 1 min, then /status answers 404.
    retention_s: float = 1800.0
    sync_retention_s: float = 60.0
    runsync_wait_s: float = 90.0
    runsync_max_wait_s: float = 300.0

    # policy: the cloud's defaults and bounds (5 s <= executionTimeout <= 7 days, 10 s <= ttl <= 1 week)
    default_execution_timeout_ms: int = 600_000
    min_execution_timeout_ms: int = 5_000
    max_execution_timeout_ms: int = 7 * 86_400_000
    default_ttl_ms: int = 86_400_000
    min_ttl_ms: int = 10_000
    max_ttl_ms: int = 7 * 86_400_000
    # the cloud takes up to 10 MB on /run and 20 MB on /runsync
    max_body_bytes: int = 20 * 1024 * 1024

    # "If the call fails, RunPod will retry up to 2 more times with a 10-second delay."
    webhook_attempts: int = 3
    webhook_interval_s: float = 10.0
    # A receiver that has not answered by then has failed this attempt: the cloud gives up on a slow
    # receiver far sooner than its 10 s retry interval. Answer 200 at once and work afterwards.
    webhook_timeout_s: float = 2.0

    # How long job-take and job-stop hold a worker's poll open before answering 204. Long, as in the
    # cloud: a job or a stop signal answers a held poll at once, and shutdown releases them all.
    worker_poll_wait_s: float = 20.0
    # a worker seen (poll, ping or result) within this window counts in /health
    worker_seen_window_s: float = 30.0
    sweep_interval_s: float = 0.5

    workers: int = 1
    worker_command: str = "gpu/.venv/bin/python -m codex_gpu"
    worker_endpoint: str = ""  # the endpoint the spawned workers serve; the first one when empty
    public_url: str = ""  # the base URL workers use to reach this server; http://127.0.0.1:<port> when empty
    worker_ping_interval_ms: int = 10_000
    worker_env_json: str = "{}"  # extra environment of the spawned workers, a JSON object

    # fault rules installed at start: a JSON list of the bodies POST /_admin/faults takes
    faults: list[dict[str, Any]] = []

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.environment == "production":  # a stand-in with a public API key: never in production
            raise ValueError("runpod-local is a development stand-in and refuses to start in production")
        if not self.endpoints:
            raise ValueError("ENDPOINTS names no endpoint")
        if self.worker_endpoint and self.worker_endpoint not in self.endpoints:
            raise ValueError(f"WORKER_ENDPOINT {self.worker_endpoint!r} is not one of ENDPOINTS")
        if self.worker_ping_interval_ms < 1000:
            # the SDK sleeps interval // 1000 seconds: below 1000 it would ping without pause
            raise ValueError("WORKER_PING_INTERVAL_MS must be at least 1000")

    @property
    def served_endpoint(self) -> str:
        return self.worker_endpoint or self.endpoints[0]

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def worker_argv(self) -> list[str]:
        return shlex.split(self.worker_command)

    @property
    def worker_env(self) -> dict[str, str]:
        env = msgspec.json.decode(self.worker_env_json.encode())
        if not isinstance(env, dict):
            raise SettingsError(f"{PREFIX}WORKER_ENV_JSON must be a JSON object")
        return {str(k): str(v) for k, v in env.items()}

    def with_overrides(self, **changes: Any) -> Settings:
        return msgspec.structs.replace(self, **changes)

    @classmethod
    def load(cls) -> Self:
        """`from_env()`, or one line naming the bad variable and exit status 2 (the kit's CLI calls it)."""
        settings_or_exit(cls, PREFIX)  # the one-line error and exit 2 for a malformed variable
        return cls.from_env()  # type: ignore[return-value]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = load_settings(cls, PREFIX, env)
        if PREFIX + "API_KEY" not in env and "API_KEY" not in env and env.get("RUNPOD_API_KEY"):
            settings = settings.with_overrides(api_key=env["RUNPOD_API_KEY"])
        return settings
