"""Bad sources fail fast with a permanent, classified error, and nothing is uploaded."""

from __future__ import annotations

import time

import av
import pytest
from media import make_clip


def assert_failed(result, store, code: str, *, retryable: bool = False) -> None:
    assert result.status == "failed"
    assert result.error is not None, result
    assert (result.error.code, result.error.retryable) == (code, retryable), result.error
    assert result.renditions == [] and result.thumbnail is None
    assert not store.puts, "a failed job must not upload anything"


def test_text_file_is_not_a_video(transcode_job, store):
    result = transcode_job(b"Dear creator,\nthis is a text file, not a video.\n" * 50)
    assert_failed(result, store, "NOT_A_VIDEO")


def test_empty_file(transcode_job, store):
    assert_failed(transcode_job(b""), store, "EMPTY")


@pytest.mark.parametrize("faststart", [True, False], ids=["moov-first", "moov-last"])
def test_truncated_mp4(transcode_job, store, tmp_path, faststart):
    path = tmp_path / "whole.mp4"
    out = av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else {})
    video = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
    video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
    with av.open("testsrc2=size=320x180:rate=30:duration=1", format="lavfi") as pattern:
        for frame in pattern.decode(video=0):
            out.mux(video.encode(frame))
    out.mux(video.encode(None))
    out.close()
    whole = path.read_bytes()
    started = time.monotonic()
    result = transcode_job(whole[: len(whole) * 2 // 3])
    assert_failed(result, store, "TRUNCATED")
    assert time.monotonic() - started < 5  # fails in the probe, before any encoding


def test_unknown_video_codec(transcode_job, store, clips):
    data = clips.bytes("small.mp4")
    entry = data.index(b"avc1", data.index(b"stsd"))  # the sample entry names the codec
    result = transcode_job(data[:entry] + b"zzz9" + data[entry + 4 :])
    assert_failed(result, store, "UNSUPPORTED_CODEC")


def test_audio_only_file_has_no_video_stream(transcode_job, store, tmp_path):
    path = tmp_path / "song.m4a"
    out = av.open(str(path), "w", format="mp4")
    sound = out.add_stream("aac", rate=48000)
    with av.open("sine=frequency=440:duration=1:sample_rate=48000", format="lavfi") as tone:
        for frame in tone.decode(audio=0):
            frame.pts = None
            out.mux(sound.encode(frame))
    out.mux(sound.encode(None))
    out.close()
    assert_failed(transcode_job(path.read_bytes()), store, "NO_VIDEO_STREAM")


def test_still_image_is_not_a_video(transcode_job, store, clips, tmp_path):
    from codex_gpu.frames import write_thumbnail

    with av.open(str(clips.path("small.mp4"))) as container:
        frame = next(container.decode(video=0))
    image = write_thumbnail(frame, tmp_path / "still.jpg", 320, 180, 0.0)
    assert_failed(transcode_job(image.path.read_bytes()), store, "NOT_A_VIDEO")


def test_too_long(transcode_job, store, clips):
    result = transcode_job(clips.bytes("small.mp4"), limits={"max_duration_s": 0.5})
    assert_failed(result, store, "TOO_LONG")


def test_too_large_by_content_length(transcode_job, store, clips):
    result = transcode_job(clips.bytes("small.mp4"), limits={"max_source_bytes": 1000})
    assert_failed(result, store, "TOO_LARGE")


def test_too_large_while_streaming_without_content_length(transcode_job, store, clips):
    store.send_length = False  # the cap must hold even when the server does not announce a size
    result = transcode_job(clips.bytes("small.mp4"), limits={"max_source_bytes": 1000})
    assert_failed(result, store, "TOO_LARGE")


def test_invalid_job_is_refused_before_any_transfer(transcode_job, store):
    result = transcode_job(b"irrelevant", ladder=[{"name": "1080p", "short_side": 1080}], outputs={})
    assert_failed(result, store, "INVALID_JOB")
    assert store.requests == []


def test_a_source_cut_inside_its_media_data_but_readable_is_truncated(transcode_job, store, tmp_path):
    # A Matroska file cut short keeps its header, which still declares the full duration.
    path = make_clip(tmp_path / "long.mkv", width=320, height=180, duration=4, audio=None, fmt="matroska")
    data = path.read_bytes()
    result = transcode_job(data[: len(data) // 3])
    assert_failed(result, store, "TRUNCATED")
