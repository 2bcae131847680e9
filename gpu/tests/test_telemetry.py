"""GPU telemetry, with NVML faked: the shape of the report and a GPU without an encoder engine."""

from __future__ import annotations

import types

from codex_contracts.transcode import GpuInfo
from codex_gpu import telemetry


class NVMLError(Exception):
    pass


def fake_nvml(*, encoder_supported: bool, fail_init: bool = False) -> types.SimpleNamespace:
    used = iter([10 * 2**20, 900 * 2**20, 300 * 2**20] + [300 * 2**20] * 100)
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if fail_init:
            raise NVMLError("Driver Not Loaded")

    def encoder(handle: object) -> tuple[int, int]:
        if not encoder_supported:  # H100/H200: no NVENC engine
            raise NVMLError("Not Supported")
        return (35, 167000)

    return types.SimpleNamespace(
        NVMLError=NVMLError,
        calls=calls,
        nvmlInit=init,
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlDeviceGetHandleByIndex=lambda index: "gpu0",
        nvmlDeviceGetName=lambda handle: b"NVIDIA H100 80GB HBM3",
        nvmlSystemGetDriverVersion=lambda: "560.35.03",
        nvmlDeviceGetMemoryInfo=lambda handle: types.SimpleNamespace(total=81559 * 2**20, used=next(used)),
        nvmlDeviceGetEncoderUtilization=encoder,
        nvmlDeviceGetDecoderUtilization=lambda handle: (62, 167000),
    )


def test_peaks_over_the_job_and_a_gpu_without_nvenc(monkeypatch):
    nvml = fake_nvml(encoder_supported=False)
    monkeypatch.setattr(telemetry, "pynvml", nvml)
    with telemetry.GpuSampler(interval_s=0.01) as sampler:
        pass
    assert sampler.info() == GpuInfo(
        name="NVIDIA H100 80GB HBM3",
        driver="560.35.03",
        memory_total_mb=81559,
        memory_used_mb=900,
        encoder_utilization_pct=0,
        decoder_utilization_pct=62,
    )
    assert nvml.calls == ["init", "shutdown"]


def test_no_driver_means_no_gpu_info(monkeypatch):
    monkeypatch.setattr(telemetry, "pynvml", fake_nvml(encoder_supported=True, fail_init=True))
    with telemetry.GpuSampler() as sampler:
        pass
    assert sampler.info() is None
