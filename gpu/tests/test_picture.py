"""What the picture goes through: per-rung frame rates over shared frames, deinterlacing, HDR tone-mapping
and the colour every output is tagged with. Sources are generated here."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import pytest
from media import combing, inspect_mp4, make_clip, make_uniform_clip, mean_luma
from test_transcode import check_outputs

from codex_contracts.transcode import Rung
from codex_gpu.ladder import plan_ladder, rung_fps
from codex_gpu.settings import Settings, SettingsError

HLG_BT2020 = (9, 18, 9, 1)  # primaries BT.2020, transfer ARIB STD-B67 (HLG), matrix BT.2020 NCL, limited
PQ_BT2020 = (9, 16, 9, 1)


def output_colour(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        return (context.color_primaries, context.color_trc, context.colorspace, context.color_range)


def saved(store, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"out-{name}.mp4"
    path.write_bytes(store.puts[f"out/{name}.mp4"].body)
    return path


# ---- frame rates ----


def test_rung_fps_keeps_evenly_spaced_frames():
    assert rung_fps(Fraction(60), 30) == 30
    assert rung_fps(Fraction(60), 25) == 20
    assert rung_fps(Fraction(30000, 1001), 24) == Fraction(15000, 1001)
    assert rung_fps(Fraction(24), 30) == 24
    plans = plan_ladder(
        1920,
        1080,
        Fraction(60),
        [Rung(name="a", short_side=1080), Rung(name="b", short_side=360, max_fps=30)],
    )
    assert [(p.fps, p.gop) for p in plans] == [(60, 120), (30, 60)]


def test_a_rung_with_a_lower_frame_rate_cap_shares_the_frames(transcode_job, store, tmp_path):
    """The frames are shared between renditions at 60 and 30 fps: the 30 fps one drops every other
    frame instead of encoding in its own time base (which would rebase the shared frames' pts in place,
    under the other encoder's feet)."""
    clip = make_clip(tmp_path / "sixty.mp4", width=320, height=180, duration=1, rate=60, audio=None)
    ladder = [{"name": "180p", "short_side": 180}, {"name": "90p", "short_side": 90, "max_fps": 30}]
    outputs = {rung["name"]: store.url(f"out/{rung['name']}.mp4") for rung in ladder}
    result = transcode_job(clip.read_bytes(), ladder=ladder, outputs=outputs)
    check_outputs(store, result, tmp_path, clip, {"180p": (320, 180), "90p": (160, 90)}, audio=False)
    fast, slow = inspect_mp4(saved(store, tmp_path, "180p")), inspect_mp4(saved(store, tmp_path, "90p"))
    assert (fast.fps, slow.fps) == (60, 30)
    assert fast.keyframe_times == slow.keyframe_times == [0.0]  # one GOP of 2 s each
    with av.open(str(saved(store, tmp_path, "90p"))) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    assert len(times) == 30
    assert all(abs((b - a) - 1 / 30) < 1e-3 for a, b in itertools.pairwise(times)), times


# ---- interlaced sources ----


def interlaced_clip(path: Path) -> Path:
    """60 pictures a second woven two by two into 30 interlaced frames (top field first): moving edges
    comb, as a camera's 1080i does."""
    output = av.open(str(path), "w")
    video = output.add_stream("libx264", rate=30, options={"preset": "ultrafast", "x264-params": "tff=1"})
    video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
    woven = "testsrc2=size=320x90:rate=60:duration=1,weave=first_field=top,setfield=tff"
    with av.open(woven, format="lavfi") as pattern:
        for frame in pattern.decode(video=0):
            frame.pict_type = av.video.frame.PictureType.NONE
            output.mux(video.encode(frame))
    output.mux(video.encode(None))
    output.close()
    return path


def test_an_interlaced_source_is_deinterlaced_before_scaling(transcode_job, store, tmp_path):
    clip = interlaced_clip(tmp_path / "interlaced.mp4")
    with av.open(str(clip)) as container:
        assert next(container.decode(video=0)).interlaced_frame
    result = transcode_job(clip.read_bytes(), ladder=[{"name": "720p", "short_side": 720}])
    assert result.status == "succeeded", result.error
    out = saved(store, tmp_path, "720p")
    assert result.renditions[0].fps == 30 and result.renditions[0].height == 180
    # bwdif blends the fields by motion: the comb between neighbouring rows is mostly gone
    assert combing(out) < 0.5 * combing(clip), (combing(out), combing(clip))
    with av.open(str(out)) as container:
        assert not next(container.decode(video=0)).interlaced_frame


# ---- HDR and colour ----


@pytest.mark.parametrize("colour", [HLG_BT2020, PQ_BT2020], ids=["hlg", "pq"])
def test_hdr_is_tone_mapped_to_bt709_and_tagged_so(transcode_job, store, tmp_path, colour):
    # HLG's reference white is its 75 % signal (limited-range luma 180); PQ's 203 nits is 58 % (143).
    luma = 180 if colour == HLG_BT2020 else 143
    clip = make_uniform_clip(tmp_path / "hdr.mp4", width=320, height=180, frames=5, luma=luma, colour=colour)
    result = transcode_job(clip.read_bytes(), ladder=[{"name": "720p", "short_side": 720}])
    assert result.status == "succeeded", result.error
    out = saved(store, tmp_path, "720p")
    assert output_colour(out) == (1, 1, 1, 1)  # BT.709 primaries, transfer and matrix, limited range
    # Reference white lands near SDR white (235), where an untouched copy would stay grey.
    assert 200 <= mean_luma(out) <= 235, mean_luma(out)


def test_with_tone_mapping_off_hdr_output_says_what_it_carries(store, tmp_path, settings):
    from conftest import job_input

    from codex_gpu.handler import run

    clip = make_uniform_clip(
        tmp_path / "hlg.mp4", width=320, height=180, frames=3, luma=180, colour=HLG_BT2020
    )
    job = job_input(store, clip.read_bytes(), ladder=[{"name": "720p", "short_side": 720}])
    plain = Settings(workdir=settings.workdir, url_allow=settings.url_allow, tone_map=False)
    assert run(job, plain).status == "succeeded"
    out = saved(store, tmp_path, "720p")
    assert output_colour(out) == HLG_BT2020  # never BT.709 tags on BT.2020 pixels
    assert abs(mean_luma(out) - 180) < 3


@pytest.mark.parametrize(("size", "tags"), [((320, 180), (6, 6, 6, 1)), ((1280, 720), (1, 1, 1, 1))])
def test_an_untagged_source_gets_the_tags_players_assume(transcode_job, store, tmp_path, size, tags):
    clip = make_clip(tmp_path / "plain.mp4", width=size[0], height=size[1], duration=0.2, audio=None)
    result = transcode_job(clip.read_bytes(), ladder=[{"name": "720p", "short_side": 720}])
    assert result.status == "succeeded", result.error
    assert output_colour(saved(store, tmp_path, "720p")) == tags


# ---- settings ----


@pytest.mark.parametrize(
    ("name", "value"),
    [("NVENC", "maybe"), ("TRANSFER_ATTEMPTS", "three"), ("READ_TIMEOUT_S", "-1"), ("JOB_TIMEOUT_S", "nan")],
)
def test_a_malformed_setting_names_its_variable(name, value):
    with pytest.raises(SettingsError, match=f"CODEX_GPU_{name}"):
        Settings.from_env({f"CODEX_GPU_{name}": value})


def test_settings_read_flags_numbers_and_the_url_allow_list():
    settings = Settings.from_env(
        {"CODEX_GPU_NVENC": "off", "CODEX_GPU_JOB_TIMEOUT_S": "90", "CODEX_GPU_URL_ALLOW": "127.0.0.1, minio"}
    )
    assert (settings.nvenc, settings.job_timeout_s, settings.url_allow) == (
        False,
        90.0,
        ("127.0.0.1", "minio"),
    )


def test_a_malformed_setting_stops_the_worker_at_start(tmp_path):
    import subprocess
    import sys

    env = {"CODEX_GPU_NVDEC": "perhaps", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "codex_gpu"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "CODEX_GPU_NVDEC" in done.stderr
