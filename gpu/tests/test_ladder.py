from fractions import Fraction

import pytest

from codex_contracts.transcode import DEFAULT_LADDER, Rung
from codex_gpu.ladder import output_fps, plan_ladder, scaled_size, thumbnail_time


def sizes(width: int, height: int, fps: Fraction | None = Fraction(30)) -> list[tuple[str, int, int]]:
    return [(p.name, p.width, p.height) for p in plan_ladder(width, height, fps, DEFAULT_LADDER)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((1920, 1080), [("1080p", 1920, 1080), ("720p", 1280, 720)]),
        ((3840, 2160), [("1080p", 1920, 1080), ("720p", 1280, 720)]),
        ((1080, 1920), [("1080p", 1080, 1920), ("720p", 720, 1280)]),  # portrait stays portrait
        ((1280, 720), [("720p", 1280, 720)]),  # never upscaled: one rendition
        ((854, 480), [("720p", 854, 480)]),  # below every rung: one rendition at its own size
        ((1918, 1078), [("1080p", 1918, 1078), ("720p", 1282, 720)]),
        ((1919, 1079), [("1080p", 1918, 1078), ("720p", 1280, 720)]),  # odd: floored to even, not up
        ((1600, 900), [("1080p", 1600, 900), ("720p", 1280, 720)]),  # a capped rung well above 720p
        ((1298, 730), [("720p", 1280, 720)]),  # a capped rung too close to 720p is not made twice
        ((2560, 1080), [("1080p", 2560, 1080), ("720p", 1706, 720)]),  # ultra-wide
        ((640, 640), [("720p", 640, 640)]),
    ],
)
def test_rungs_follow_the_short_side_and_never_upscale(source, expected):
    assert sizes(*source) == expected


def test_every_dimension_is_even_for_any_source_size():
    for width in range(96, 2200, 37):
        for height in (97, 359, 721, 1079, 1081, 2161):
            for _name, w, h in sizes(width, height):
                assert w % 2 == 0 and h % 2 == 0
                assert w <= width and h <= height


def test_scaled_size_keeps_the_aspect_ratio():
    w, h = scaled_size(4096, 1716, 720)
    assert h == 720 and abs(w / h - 4096 / 1716) < 0.01


def test_frame_rate_is_kept_and_capped_at_60():
    assert output_fps(Fraction(30000, 1001)) == Fraction(30000, 1001)
    assert output_fps(Fraction(50)) == 50
    assert output_fps(Fraction(120)) == 60
    assert output_fps(None) == 30
    assert output_fps(Fraction(0)) == 30


def test_a_keyframe_every_two_seconds():
    assert [p.gop for p in plan_ladder(1920, 1080, Fraction(30), DEFAULT_LADDER)] == [60, 60]
    assert plan_ladder(1920, 1080, Fraction(120), DEFAULT_LADDER)[0].gop == 120
    assert plan_ladder(1920, 1080, Fraction(24000, 1001), DEFAULT_LADDER)[0].gop == 48


def test_a_custom_ladder_in_any_order():
    ladder = [Rung(name="360p", short_side=360), Rung(name="1440p", short_side=1440)]
    plans = plan_ladder(3840, 2160, Fraction(25), ladder)
    assert [(p.name, p.width, p.height) for p in plans] == [("1440p", 2560, 1440), ("360p", 640, 360)]


def test_thumbnail_at_two_seconds_or_the_middle():
    assert thumbnail_time(60.0) == 2.0
    assert thumbnail_time(4.0) == 2.0
    assert thumbnail_time(3.0) == 1.5
    assert thumbnail_time(1.0) == 0.5
    assert thumbnail_time(None) == 0.0


def test_a_degenerate_source_is_refused():
    with pytest.raises(ValueError):
        plan_ladder(1, 1, Fraction(30), DEFAULT_LADDER)
