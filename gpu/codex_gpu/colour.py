"""Colour: what every output is tagged with, and HDR (PQ/HLG, BT.2020) tone-mapped to BT.709 SDR.

Most phone videos today are HLG or PQ in BT.2020 primaries. Encoded as they are into 8-bit H.264 and
tagged BT.709 they play washed out and grey; so they are tone-mapped. The bundled FFmpeg has no zscale
(the usual linearisation step before ``tonemap``) and ``colorspace`` knows neither PQ nor HLG, so the
whole conversion is one 3D LUT, computed here in Python once per process and applied with ``lut3d``:
non-linear BT.2020 RGB in, BT.709 (gamma 2.4) RGB out. Per sample: the transfer's inverse (PQ's EOTF,
or HLG's inverse OETF with its system gamma at a 1000 nit peak), scale so that reference white (203
nits, BT.2408) is 1.0, BT.2020 to BT.709 primaries, then on luminance: linear up to a knee (0.75),
above it an extended Reinhard curve that brings the peak to SDR white (so reference white lands near
it, at about 0.88 linear), clip, then BT.1886's inverse (gamma 2.4).
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codex_gpu.probe import SourceInfo

LUT_SIZE = 33
KNEE = 0.75
REFERENCE_WHITE_NITS = 203.0
HLG_PEAK_NITS = 1000.0
PQ_PEAK_NITS = 1000.0  # mastering peak assumed when the stream does not say (most do not)

# AVCOL_* numbers (libavutil/pixfmt.h)
BT709, UNSPECIFIED, SMPTE170M = 1, 2, 6
RANGE_LIMITED = 1
_SDR_TAGGED = {1: BT709, 5: 5, 6: SMPTE170M, 7: 7}  # colorspace -> its usual primaries


@dataclass(frozen=True)
class ColourTags:
    """What an output's VUI says about its pixels (AVCOL_PRI / TRC / SPC / RANGE numbers)."""

    primaries: int
    trc: int
    space: int
    range: int = RANGE_LIMITED


def output_tags(source: SourceInfo, *, tone_mapped: bool) -> ColourTags:
    """Tags for every rendition: BT.709 after tone-mapping; an SDR source's own where it says them;
    otherwise what players assume for its size (BT.601 below 720 lines, BT.709 from there)."""
    if tone_mapped:
        return ColourTags(BT709, BT709, BT709)
    if source.hdr is not None:  # tone-mapping switched off: say honestly what the pixels are
        return ColourTags(source.color_primaries, source.color_trc, source.colorspace)
    if source.colorspace in _SDR_TAGGED:
        primaries = (
            source.color_primaries
            if source.color_primaries != UNSPECIFIED
            else _SDR_TAGGED[source.colorspace]
        )
        trc = source.color_trc if source.color_trc != UNSPECIFIED else BT709
        return ColourTags(primaries, trc, source.colorspace)
    if min(source.width, source.height) < 720:
        return ColourTags(SMPTE170M, SMPTE170M, SMPTE170M)
    return ColourTags(BT709, BT709, BT709)


def tone_map_filters(source: SourceInfo) -> list[tuple[str, str]]:
    """The filter chain (name, args) that takes the source's frames to BT.709 SDR yuv420p."""
    transfer = source.hdr
    assert transfer is not None
    full = source.color_range == 2
    return [
        ("scale", f"in_color_matrix=bt2020:in_range={'pc' if full else 'tv'}:out_range=pc"),
        ("format", "gbrp16le"),
        ("lut3d", f"file={lut_file(transfer)}:interp=tetrahedral"),
        ("scale", "out_color_matrix=bt709:out_range=tv"),
        ("format", "yuv420p"),
    ]


@functools.cache
def lut_file(transfer: str) -> Path:
    """The .cube file for ``transfer`` ("pq", "hlg" or "bt2020"), written once per process."""
    path = Path(tempfile.gettempdir()) / f"codex-gpu-lut-{transfer}-{LUT_SIZE}.cube"
    lines = [f"LUT_3D_SIZE {LUT_SIZE}"]
    step = 1.0 / (LUT_SIZE - 1)
    for b in range(LUT_SIZE):  # red varies fastest
        for g in range(LUT_SIZE):
            for r in range(LUT_SIZE):
                out = _map(transfer, r * step, g * step, b * step)
                lines.append(" ".join(f"{v:.6f}" for v in out))
    # Written aside and renamed: several worker processes may share the temporary directory.
    partial = path.with_name(f"{path.name}.{os.getpid()}")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return path


def _map(transfer: str, r: float, g: float, b: float) -> tuple[float, float, float]:
    if transfer == "pq":
        rgb = [_pq_eotf(v) / REFERENCE_WHITE_NITS for v in (r, g, b)]
        peak = PQ_PEAK_NITS / REFERENCE_WHITE_NITS
    elif transfer == "hlg":
        rgb = _hlg_display(r, g, b)
        peak = HLG_PEAK_NITS / REFERENCE_WHITE_NITS
    else:  # SDR in BT.2020 primaries (BT.2020's OETF is BT.709's): only the gamut changes
        rgb = [_bt709_inverse_oetf(v) for v in (r, g, b)]
        peak = 1.0
    r709 = 1.6605 * rgb[0] - 0.5876 * rgb[1] - 0.0728 * rgb[2]
    g709 = -0.1246 * rgb[0] + 1.1329 * rgb[1] - 0.0083 * rgb[2]
    b709 = -0.0182 * rgb[0] - 0.1006 * rgb[1] + 1.1187 * rgb[2]
    linear = [max(0.0, v) for v in (r709, g709, b709)]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    if peak > 1.0 and luminance > KNEE:
        x, white = (luminance - KNEE) / (1 - KNEE), (peak - KNEE) / (1 - KNEE)
        mapped = KNEE + (1 - KNEE) * x * (1 + x / (white * white)) / (1 + x)
        linear = [v * mapped / luminance for v in linear]
    return tuple(min(1.0, v) ** (1 / 2.4) for v in linear)  # type: ignore[return-value]


def _pq_eotf(value: float) -> float:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = value ** (1 / m2)
    return 10000.0 * (max(p - c1, 0.0) / (c2 - c3 * p)) ** (1 / m1)


def _hlg_display(r: float, g: float, b: float) -> list[float]:
    """HLG signal to display light relative to reference white (BT.2100 OOTF, gamma 1.2 at 1000 nits)."""
    a, b_, c = 0.17883277, 0.28466892, 0.55991073

    def scene(v: float) -> float:
        return v * v / 3 if v <= 0.5 else (math.exp((v - c) / a) + b_) / 12

    rs, gs, bs = scene(r), scene(g), scene(b)
    ys = 0.2627 * rs + 0.6780 * gs + 0.0593 * bs
    gain = HLG_PEAK_NITS * ys**0.2 / REFERENCE_WHITE_NITS if ys > 0 else 0.0
    return [rs * gain, gs * gain, bs * gain]


def _bt709_inverse_oetf(value: float) -> float:
    return value / 4.5 if value < 0.081 else ((value + 0.099) / 1.099) ** (1 / 0.45)
