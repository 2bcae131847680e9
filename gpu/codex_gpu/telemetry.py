"""The GPU as NVML sees it: name, memory, encoder and decoder use. None where there is no NVIDIA GPU."""

from __future__ import annotations

import logging
import threading

from codex_contracts.transcode import GpuInfo

log = logging.getLogger(__name__)

try:
    import pynvml
except ImportError:  # nvidia-ml-py is a dependency; this only guards a broken install
    pynvml = None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class GpuSampler:
    """Samples GPU 0 every ``interval_s`` while a job runs and keeps the peaks, so the result shows the
    encoder and decoder use during the work rather than at one instant after it."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle = None
        self._peak: dict[str, int] = {"memory_used_mb": 0, "encoder": 0, "decoder": 0}
        self._static: dict[str, object] = {}
        if pynvml is None:
            return
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            memory = pynvml.nvmlDeviceGetMemoryInfo(self._handle)
            self._static = {
                "name": _text(pynvml.nvmlDeviceGetName(self._handle)),
                "driver": _text(pynvml.nvmlSystemGetDriverVersion()),
                "memory_total_mb": int(memory.total // 2**20),
            }
        except pynvml.NVMLError as exc:
            log.info("no NVIDIA GPU visible to NVML (%s)", exc)
            self._handle = None

    def __enter__(self) -> GpuSampler:
        if self._handle is not None:
            self._sample()
            self._thread = threading.Thread(target=self._loop, name="gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._handle is not None:
            self._sample()
            pynvml.nvmlShutdown()  # nvmlInit is reference-counted: one shutdown per init

    def info(self) -> GpuInfo | None:
        if self._handle is None:
            return None
        return GpuInfo(
            name=str(self._static["name"]),
            driver=str(self._static["driver"]),
            memory_total_mb=int(self._static["memory_total_mb"]),  # type: ignore[call-overload]
            memory_used_mb=self._peak["memory_used_mb"],
            encoder_utilization_pct=self._peak["encoder"],
            decoder_utilization_pct=self._peak["decoder"],
        )

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._sample()

    def _sample(self) -> None:
        # Each query on its own: a GPU without an encoder engine may answer "not supported" to one.
        queries = {
            "memory_used_mb": lambda: pynvml.nvmlDeviceGetMemoryInfo(self._handle).used // 2**20,
            "encoder": lambda: pynvml.nvmlDeviceGetEncoderUtilization(self._handle)[0],
            "decoder": lambda: pynvml.nvmlDeviceGetDecoderUtilization(self._handle)[0],
        }
        for key, query in queries.items():
            try:
                self._peak[key] = max(self._peak[key], int(query()))
            except pynvml.NVMLError as exc:
                log.debug("NVML %s: %s", key, exc)
