"""Which H.264 encoder and which decoder this machine can use, found by trying them, and their settings.

NVENC and NVDEC are separate engines: H100 and H200 have NVDEC but no NVENC, so there the worker decodes
on the GPU and encodes with libx264. The only reliable test for NVENC is to open an encoder session:
the wheel of av always carries h264_nvenc, and it fails to open on a GPU without the engine (or without
a GPU at all).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
from av.codec.hwaccel import HWAccel

from codex_gpu.ladder import RenditionPlan
from codex_gpu.settings import Settings

log = logging.getLogger(__name__)

NVENC = "h264_nvenc"
X264 = "libx264"


@dataclass(frozen=True)
class CodecChoice:
    encoder: str  # NVENC or X264
    nvdec: bool  # decode through the CUDA hwaccel (NVDEC)


@functools.cache
def nvenc_available() -> bool:
    context = av.CodecContext.create(NVENC, "w")
    context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
    context.time_base = Fraction(1, 30)
    try:
        context.open()
    except (av.error.FFmpegError, OSError) as exc:
        log.info("NVENC is not available (%s): encoding with libx264", exc)
        return False
    return True


@functools.cache
def nvdec_available() -> bool:
    try:
        HWAccel("cuda", allow_software_fallback=False).create(av.codec.Codec("h264", "r"))
    except (av.error.FFmpegError, OSError, NotImplementedError) as exc:
        log.info("no CUDA device for NVDEC (%s): decoding in software", exc)
        return False
    return True


def choose(settings: Settings) -> CodecChoice:
    encoder = NVENC if settings.nvenc and nvenc_available() else X264
    return CodecChoice(encoder=encoder, nvdec=settings.nvdec and nvdec_available())


def video_options(encoder: str, plan: RenditionPlan, settings: Settings) -> dict[str, str]:
    """Encoder options for one rendition: H.264 High, a keyframe every 2 s exactly (no scene-cut
    keyframes, so that every rendition's segments line up), capped CRF or average bitrate."""
    rung = plan.rung
    rate: dict[str, str] = {}
    if rung.video_bitrate_kbps is not None:
        rate["b"] = f"{rung.video_bitrate_kbps}k"
    if rung.maxrate_kbps is not None:
        rate["maxrate"] = f"{rung.maxrate_kbps}k"
        rate["bufsize"] = f"{2 * rung.maxrate_kbps}k"
    if encoder == NVENC:
        if rung.video_bitrate_kbps is None:
            rate.update({"rc": "vbr", "cq": str(rung.crf if rung.crf is not None else 23), "b": "0"})
        return {
            "preset": settings.nvenc_preset,
            "tune": "hq",
            "profile": "high",
            "g": str(plan.gop),
            "forced-idr": "1",
            "no-scenecut": "1",
            "strict_gop": "1",
            **rate,
        }
    if rung.video_bitrate_kbps is None:
        rate["crf"] = str(rung.crf if rung.crf is not None else 23)
    return {
        "preset": settings.x264_preset,
        "profile": "high",
        "x264-params": f"keyint={plan.gop}:min-keyint={plan.gop}:scenecut=0",
        **rate,
    }
