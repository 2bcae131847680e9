"""Real encodes through the handler: a generated source is served over HTTP, the worker downloads,
transcodes and PUTs; the uploaded files are then opened and checked as a viewer's player would."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from media import decode_jpeg, inspect_mp4

from codex_gpu import encoders
from codex_gpu.settings import Settings

DURATION_TOLERANCE_S = 0.15


def source_duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def check_outputs(store, result, tmp_path, clip: Path, expected: dict[str, tuple[int, int]], audio: bool):
    assert result.error is None, result.error
    assert result.status == "succeeded"
    assert {r.name: (r.width, r.height) for r in result.renditions} == expected
    assert sorted(key for key in store.puts) == sorted(
        [f"out/{name}.mp4" for name in expected] + ["out/thumb.jpg"]
    )
    want = source_duration(clip)
    for rendition in result.renditions:
        put = store.puts[f"out/{rendition.name}.mp4"]
        assert put.headers["Content-Type"] == "video/mp4"
        path = tmp_path / f"{rendition.name}.mp4"
        path.write_bytes(put.body)
        facts = inspect_mp4(path)
        assert (facts.width, facts.height) == expected[rendition.name]
        assert facts.codec == "h264" and facts.profile == "High" and facts.pix_fmt == "yuv420p"
        assert abs(facts.duration - want) <= DURATION_TOLERANCE_S, (facts.duration, want)
        assert facts.has_audio is audio
        if audio:
            assert facts.audio_codec == "aac" and facts.audio_channels == 2
        assert facts.boxes.index("moov") < facts.boxes.index("mdat"), facts.boxes  # faststart
        # The result says what the file holds.
        assert rendition.size_bytes == len(put.body)
        assert (rendition.codec, rendition.profile, rendition.pix_fmt) == ("h264", "High", "yuv420p")
        assert rendition.has_audio is audio
        assert abs(rendition.duration_s - facts.duration) < 0.01
        assert rendition.bitrate > 0
    thumb = store.puts["out/thumb.jpg"]
    assert thumb.headers["Content-Type"] == "image/jpeg"
    assert decode_jpeg(thumb.body, tmp_path / "thumb.jpg") == (
        result.thumbnail.width,
        result.thumbnail.height,
    )
    assert result.thumbnail.size_bytes == len(thumb.body)
    # Without NVENC (no GPU here, or an H100) the probe falls back to libx264 cleanly.
    assert result.encoder == encoders.choose(Settings()).encoder
    assert (result.gpu is None) == (not encoders.nvdec_available())
    assert result.timings.total_s >= result.timings.transcode_s > 0


def test_1080p_landscape_with_audio(transcode_job, store, clips, tmp_path):
    reports = []
    clip = clips.path("landscape.mp4")
    result = transcode_job(clip.read_bytes(), report=lambda stage, done: reports.append((stage, done)))
    check_outputs(store, result, tmp_path, clip, {"1080p": (1920, 1080), "720p": (1280, 720)}, audio=True)
    assert result.decoder.split()[0] == "h264"  # "h264 (nvdec)" on a GPU
    assert result.thumbnail.at_s == pytest.approx(1.0, abs=0.05)  # the middle of a 2 s video
    assert result.renditions[0].fps == 30
    stages = [stage for stage, _ in reports]
    assert stages[0] == "download" and stages[-1] == "upload" and "transcode" in stages
    fractions = [fraction for _, fraction in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_720p_source_is_not_upscaled(transcode_job, store, clips, tmp_path):
    clip = clips.path("hd720.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (1280, 720)}, audio=True)
    assert ("PUT", "out/1080p.mp4") not in store.requests


def test_portrait_stays_portrait(transcode_job, store, clips, tmp_path):
    clip = clips.path("portrait.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"1080p": (1080, 1920), "720p": (720, 1280)}, audio=True)
    assert (result.thumbnail.width, result.thumbnail.height) == (1080, 1920)


def test_no_audio_track_gives_no_audio_and_keyframes_every_two_seconds(transcode_job, store, clips, tmp_path):
    clip = clips.path("silent.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (640, 360)}, audio=False)
    facts = inspect_mp4(tmp_path / "720p.mp4")
    assert facts.keyframe_times == pytest.approx([0.0, 2.0], abs=0.02)
    assert result.thumbnail.at_s == pytest.approx(1.5, abs=0.05)


def test_near_1080p_source_keeps_its_own_size(transcode_job, store, clips, tmp_path):
    clip = clips.path("near1080.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"1080p": (1918, 1078), "720p": (1282, 720)}, audio=True)


def test_odd_dimensions_in_444_are_made_even_420(transcode_job, store, clips, tmp_path):
    clip = clips.path("odd444.mp4")
    with av.open(str(clip)) as container:  # the source really is odd-sized
        assert (container.streams.video[0].width, container.streams.video[0].height) == (639, 359)
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (638, 358)}, audio=True)


def test_hevc_source(transcode_job, store, clips, tmp_path):
    clip = clips.path("hevc.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (960, 540)}, audio=True)
    assert result.decoder.split()[0] == "hevc"


def test_vp9_webm_source_with_opus(transcode_job, store, clips, tmp_path):
    clip = clips.path("vp9.webm")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (640, 360)}, audio=True)
    assert result.decoder.split()[0] in {"vp9", "libvpx-vp9"}


def test_rotated_phone_video_is_turned_upright(transcode_job, store, clips, tmp_path):
    clip = clips.path("rotated.mp4")  # coded 640x360, displayed rotated by 90 degrees
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (360, 640)}, audio=True)


def test_frame_rate_is_capped_at_60(transcode_job, store, clips, tmp_path):
    clip = clips.path("fast120.mp4")
    result = transcode_job(clip.read_bytes())
    check_outputs(store, result, tmp_path, clip, {"720p": (320, 180)}, audio=False)
    facts = inspect_mp4(tmp_path / "720p.mp4")
    assert facts.fps == 60
    assert result.renditions[0].fps == 60


def gray_pixels(frame: av.VideoFrame) -> bytes:
    plane = frame.reformat(format="gray").planes[0]
    data = bytes(plane)
    return b"".join(
        data[row * plane.line_size : row * plane.line_size + plane.width] for row in range(plane.height)
    )


def test_rotation_matches_ffmpeg_autorotate(transcode_job, store, clips, tmp_path):
    """The upright picture is the one the ffmpeg CLI (which honours the display matrix) shows."""
    import subprocess

    import imageio_ffmpeg

    clip = clips.path("rotated.mp4")
    result = transcode_job(clip.read_bytes())
    assert result.error is None
    ours_path = tmp_path / "ours.mp4"
    ours_path.write_bytes(store.puts["out/720p.mp4"].body)
    reference = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(clip),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    with av.open(str(ours_path)) as container:
        ours = gray_pixels(next(container.decode(video=0)))
    assert len(ours) == len(reference) == 360 * 640
    mean_difference = sum(abs(a - b) for a, b in zip(ours, reference, strict=True)) / len(ours)
    assert mean_difference < 6, mean_difference


@pytest.mark.timeout(90)
def test_several_rungs_scale_the_same_frames_at_once(transcode_job, store, clips, tmp_path):
    """Every rung (and the thumbnail) scales the shared frames on its own thread, with its own scaler."""
    clip = clips.path("landscape.mp4")
    ladder = [
        {"name": name, "short_side": side} for name, side in (("540p", 540), ("360p", 360), ("270p", 270))
    ]
    outputs = {rung["name"]: store.url(f"out/{rung['name']}.mp4") for rung in ladder}
    result = transcode_job(clip.read_bytes(), ladder=ladder, outputs=outputs)
    expected = {"540p": (960, 540), "360p": (640, 360), "270p": (480, 270)}
    check_outputs(store, result, tmp_path, clip, expected, audio=True)
