"""The worker's own knobs, read from the environment (the job says what to make, these say how)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name)
            return default if raw is None else raw.strip().lower() not in {"0", "false", "no", "off"}

        workdir = env.get("CODEX_GPU_WORKDIR")
        return cls(
            x264_preset=env.get("CODEX_GPU_X264_PRESET", cls.x264_preset),
            nvenc_preset=env.get("CODEX_GPU_NVENC_PRESET", cls.nvenc_preset),
            transfer_attempts=int(env.get("CODEX_GPU_TRANSFER_ATTEMPTS", cls.transfer_attempts)),
            transfer_backoff_s=float(env.get("CODEX_GPU_TRANSFER_BACKOFF_S", cls.transfer_backoff_s)),
            connect_timeout_s=float(env.get("CODEX_GPU_CONNECT_TIMEOUT_S", cls.connect_timeout_s)),
            read_timeout_s=float(env.get("CODEX_GPU_READ_TIMEOUT_S", cls.read_timeout_s)),
            workdir=Path(workdir) if workdir else None,
            nvenc=flag("CODEX_GPU_NVENC", True),
            nvdec=flag("CODEX_GPU_NVDEC", True),
        )
