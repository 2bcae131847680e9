from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from media import make_clip

from codex_contracts.transcode import TranscodeResultV1
from codex_gpu.devstore import Store, StoreServer
from codex_gpu.handler import Report, run
from codex_gpu.settings import Settings

# Short clips keep the suite quick on a shared CPU: the checks are about structure, not quality.
CLIPS: dict[str, Callable[[Path], Path]] = {
    "landscape.mp4": lambda p: make_clip(p, width=1920, height=1080, duration=2),
    "hd720.mp4": lambda p: make_clip(p, width=1280, height=720, duration=1),
    "portrait.mp4": lambda p: make_clip(p, width=1080, height=1920, duration=1),
    "silent.mp4": lambda p: make_clip(p, width=640, height=360, duration=3, audio=None),
    "near1080.mp4": lambda p: make_clip(p, width=1918, height=1078, duration=1),
    "odd444.mp4": lambda p: make_clip(
        p, width=639, height=359, duration=1, pix_fmt="yuv444p", options={"preset": "ultrafast"}
    ),
    "hevc.mp4": lambda p: make_clip(
        p, width=960, height=540, duration=1, codec="libx265", options={"preset": "ultrafast"}
    ),
    "vp9.webm": lambda p: make_clip(
        p,
        width=640,
        height=360,
        duration=1,
        codec="libvpx-vp9",
        audio="libopus",
        options={"deadline": "realtime", "cpu-used": "8"},
    ),
    "rotated.mp4": lambda p: make_clip(p, width=640, height=360, duration=1, rotation=90),
    "fast120.mp4": lambda p: make_clip(p, width=320, height=180, duration=1, rate=120, audio=None),
    "small.mp4": lambda p: make_clip(p, width=320, height=180, duration=1),
}


class Clips:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        path = self.root / name
        if not path.exists():
            CLIPS[name](path)
        return path

    def bytes(self, name: str) -> bytes:
        return self.path(name).read_bytes()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    return Clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture
def store() -> Iterator[Store]:
    server = StoreServer()
    yield server.store
    server.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # No waiting between transfer attempts. NVENC and NVDEC stay on: without a GPU they must fall back.
    # The dev store listens on 127.0.0.1 over http: allowed here as CODEX_GPU_URL_ALLOW allows it in dev.
    return Settings(
        transfer_attempts=2,
        transfer_backoff_s=0.0,
        read_timeout_s=15.0,
        workdir=tmp_path,
        url_allow=("127.0.0.1",),
    )


def job_input(store: Store, source: bytes | None, **overrides: Any) -> dict[str, Any]:
    if source is not None:
        store.objects["src/source"] = source
    body: dict[str, Any] = {
        "job_id": "job-1",
        "asset_id": "asset-1",
        "source_url": store.url("src/source"),
        "outputs": {"1080p": store.url("out/1080p.mp4"), "720p": store.url("out/720p.mp4")},
        "thumbnail_url": store.url("out/thumb.jpg"),
    }
    body.update(overrides)
    return body


@pytest.fixture
def transcode_job(store: Store, settings: Settings) -> Callable[..., TranscodeResultV1]:
    def go(source: bytes | None, report: Report | None = None, **overrides: Any) -> TranscodeResultV1:
        return run(job_input(store, source, **overrides), settings, report=report)

    return go
