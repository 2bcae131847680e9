"""Which renditions to make from a source: pure arithmetic on its display size and frame rate.

A rung's ``short_side`` is the height of a landscape rendition and the width of a portrait one, so
portrait stays portrait. Nothing is upscaled: a rung above the source is capped at the source's own
size, and rungs that land on the same size make one rendition, under the smallest such rung's name
(a 720p source yields "720p" only; a 480p source yields one "720p" rendition at 480p, since the name is
the output slot, and the result reports the real size). A capped rung too close to the next one down
(less than ``MIN_STEP`` times its size) is dropped rather than made twice at nearly the same size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from codex_contracts.transcode import Rung

MAX_FPS = Fraction(60)
FALLBACK_FPS = Fraction(30)
KEYFRAME_INTERVAL_S = 2
MIN_STEP = 1.2


@dataclass(frozen=True, kw_only=True)
class RenditionPlan:
    rung: Rung
    width: int
    height: int
    fps: Fraction
    gop: int  # frames between keyframes

    @property
    def name(self) -> str:
        return self.rung.name


def output_fps(source_fps: Fraction | None) -> Fraction:
    """The source's rate, capped at 60; 30 when the source does not say (or says nonsense)."""
    if source_fps is None or source_fps <= 0 or source_fps > 1000:
        return FALLBACK_FPS
    return min(source_fps, MAX_FPS)


def rung_fps(source_fps: Fraction, max_fps: int | None) -> Fraction:
    """The rate of a rung with a frame-rate cap: the source's rate divided by the smallest whole number
    that brings it under the cap, so the frames kept are evenly spaced (60 capped at 30 is 30, capped
    at 25 is 20)."""
    if max_fps is None or source_fps <= max_fps:
        return source_fps
    return source_fps / math.ceil(source_fps / max_fps)


def keyframe_interval(fps: Fraction) -> int:
    return max(1, round(fps * KEYFRAME_INTERVAL_S))


def _floor_even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _round_even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side at ``short_side`` (never above the source's), both even."""
    short, long = min(width, height), max(width, height)
    target = min(short_side, short)
    new_short = _floor_even(target)
    # Round the long side to the nearest even number, but never past the source's own (no upscale).
    new_long = min(_round_even(long * target / short), _floor_even(long))
    return (new_long, new_short) if width >= height else (new_short, new_long)


def plan_ladder(
    width: int, height: int, source_fps: Fraction | None, rungs: Sequence[Rung]
) -> list[RenditionPlan]:
    """The renditions for a source of ``width`` x ``height`` (display size), largest first."""
    if width < 2 or height < 2:
        raise ValueError(f"source size {width}x{height} is too small to encode")
    short = min(width, height)
    ordered = sorted(rungs, key=lambda rung: rung.short_side, reverse=True)
    within = [rung for rung in ordered if rung.short_side < short]
    at_or_above = [rung for rung in ordered if rung.short_side >= short]

    chosen: list[Rung] = []
    if at_or_above:
        top = at_or_above[-1]  # the smallest rung that reaches the source's size
        capped = top.short_side > short
        too_close = capped and within and short < MIN_STEP * within[0].short_side
        if not too_close:
            chosen.append(top)
    chosen.extend(within)

    source_rate = output_fps(source_fps)
    plans = []
    for rung in chosen:
        w, h = scaled_size(width, height, rung.short_side)
        fps = rung_fps(source_rate, rung.max_fps)
        plans.append(RenditionPlan(rung=rung, width=w, height=h, fps=fps, gop=keyframe_interval(fps)))
    return plans


def thumbnail_time(duration_s: float | None) -> float:
    """2 s in, or the middle of a video shorter than 4 s."""
    if not duration_s or duration_s <= 0:
        return 0.0
    return min(2.0, duration_s / 2)
