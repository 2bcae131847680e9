"""The worker's own knobs, read from the environment (the job says what to make, these say how).

A malformed ``CODEX_GPU_*`` value stops start-up with an error that names the variable: a typo in a
flag must not silently read as "on", and a bad number must not surface later as a bare ValueError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
PREFIX = "CODEX_GPU_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A CODEX_GPU_* variable holds a value the worker cannot use."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    x264_preset: str = "veryfast"
    nvenc_preset: str = "p5"
    transfer_attempts: int = 3
    transfer_backoff_s: float = 1.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    workdir: Path | None = None  # None: the system temporary directory
    nvenc: bool = True  # set False to never try NVENC, e.g. to compare encoders
    nvdec: bool = True
    # Hosts (names or IP literals) and networks (CIDR) the job's URLs may reach although they are
    # private, loopback or link-local, and over plain http. Empty in production: presigned S3 URLs are
    # https on public addresses. The dev store and moto listen on 127.0.0.1.
    url_allow: tuple[str, ...] = ()
    # A job that runs longer than this fails (TOO_LONG, permanent): keep it below the endpoint's
    # executionTimeout, so that the worker reports a classified error before RunPod stops it.
    job_timeout_s: float = 3000.0  # 50 min: media-dispatch asks RunPod for 3600 s, uploads need the rest
    tone_map: bool = True  # HDR (PQ/HLG, BT.2020) sources are tone-mapped to BT.709 SDR

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        read = _Reader(env)
        workdir = env.get(PREFIX + "WORKDIR")
        allow = env.get(PREFIX + "URL_ALLOW", "")
        return cls(
            x264_preset=read.text("X264_PRESET", cls.x264_preset),
            nvenc_preset=read.text("NVENC_PRESET", cls.nvenc_preset),
            transfer_attempts=read.number("TRANSFER_ATTEMPTS", cls.transfer_attempts, int, minimum=1),
            transfer_backoff_s=read.number("TRANSFER_BACKOFF_S", cls.transfer_backoff_s, float, minimum=0),
            connect_timeout_s=read.number("CONNECT_TIMEOUT_S", cls.connect_timeout_s, float, minimum=0.1),
            read_timeout_s=read.number("READ_TIMEOUT_S", cls.read_timeout_s, float, minimum=0.1),
            workdir=Path(workdir) if workdir else None,
            nvenc=read.flag("NVENC", cls.nvenc),
            nvdec=read.flag("NVDEC", cls.nvdec),
            url_allow=tuple(entry.strip() for entry in allow.split(",") if entry.strip()),
            job_timeout_s=read.number("JOB_TIMEOUT_S", cls.job_timeout_s, float, minimum=1),
            tone_map=read.flag("TONE_MAP", cls.tone_map),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        raw = self.env.get(PREFIX + name)
        if raw is None:
            return default
        if not raw.strip():
            raise SettingsError(f"{PREFIX}{name} is empty")
        return raw.strip()

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(PREFIX + name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise SettingsError(
            f"{PREFIX}{name}={raw!r} is not a flag: use one of 1/0, true/false, yes/no, on/off"
        )

    def number(self, name: str, default: T, kind: Callable[[str], T], *, minimum: float) -> T:
        raw = self.env.get(PREFIX + name)
        if raw is None:
            return default
        try:
            value = kind(raw.strip())
        except ValueError:
            raise SettingsError(f"{PREFIX}{name}={raw!r} is not a {kind.__name__}") from None
        if value < minimum or value != value:  # type: ignore[operator,comparison-overlap]
            raise SettingsError(f"{PREFIX}{name}={raw!r} must be at least {minimum}")
        return value
