"""Hostile uploads and hostile jobs: anyone with a creator account chooses the bytes, and the job's URLs
are only as trustworthy as the service that presigned them. Each test holds an input of the review."""

from __future__ import annotations

import errno
import time
from fractions import Fraction
from pathlib import Path

import av
import av.error
import pytest
from media import make_clip, set_pixel_aspect
from test_bad_input import assert_failed

from codex_contracts.transcode import DEFAULT_LADDER, Limits
from codex_gpu.errors import TranscodeFailed, decode_failure, encode_failure
from codex_gpu.handler import WORKDIR_PREFIX, clean_stale_workdirs, run
from codex_gpu.ladder import plan_ladder
from codex_gpu.probe import probe
from codex_gpu.settings import Settings


@pytest.mark.parametrize(("h_spacing", "v_spacing"), [(65535, 1), (1, 65535)], ids=["wide", "thin"])
def test_an_extreme_sample_aspect_ratio_is_refused_at_probe(
    transcode_job, store, tmp_path, h_spacing, v_spacing
):
    # 320x180 coded; at 65535:1 it would display 20,971,200 px wide (1920x1080 gave the 125,827,200 px
    # rendition of the review), at 1:65535 zero px wide (a bare ValueError, then INTERNAL).
    clip = make_clip(tmp_path / "sar.mp4", width=320, height=180, duration=0.5, audio=None)
    set_pixel_aspect(clip, h_spacing, v_spacing)
    with av.open(str(clip)) as container:
        assert container.streams.video[0].sample_aspect_ratio == Fraction(h_spacing, v_spacing)
    started = time.monotonic()
    result = transcode_job(clip.read_bytes())
    assert_failed(result, store, "UNSUPPORTED_CODEC")
    assert "sample aspect ratio" in result.error.message
    assert time.monotonic() - started < 5


def test_a_picture_over_the_pixel_budget_is_too_large(tmp_path):
    # 4200x1000 coded with 2:1 pixels displays 8400 px wide: over 8192 px a side (a source past 36 MP
    # would take too long to encode here; the same check refuses it)
    clip = make_clip(tmp_path / "wide.mp4", width=4200, height=1000, duration=0.1, audio=None)
    set_pixel_aspect(clip, 2, 1)
    with pytest.raises(TranscodeFailed) as failed:
        probe(clip, Limits())
    assert failed.value.code == "TOO_LARGE" and not failed.value.retryable


def test_no_ladder_error_is_ever_internal(transcode_job, store, clips, monkeypatch):
    import codex_gpu.handler

    def broken(*args, **kwargs):
        raise ValueError("source size 0x1080 is too small to encode")

    monkeypatch.setattr(codex_gpu.handler, "plan_ladder", broken)
    assert_failed(transcode_job(clips.bytes("small.mp4")), store, "UNSUPPORTED_CODEC")
    with pytest.raises(ValueError):
        plan_ladder(0, 1080, Fraction(30), DEFAULT_LADDER)


def test_an_ffconcat_file_is_not_opened(transcode_job, store):
    # The concat demuxer, guessed from these bytes, would open `source` again and again.
    started = time.monotonic()
    result = transcode_job(b"ffconcat version 1.0\nfile source\nfile source\n")
    assert_failed(result, store, "NOT_A_VIDEO")
    assert "container" in result.error.message
    assert time.monotonic() - started < 5


def test_an_ffconcat_file_cannot_reach_a_file_beside_it(clips, tmp_path):
    # Before the whitelist the probe read the neighbour's video through the playlist.
    (tmp_path / "neighbour.mp4").write_bytes(clips.bytes("small.mp4"))
    source = tmp_path / "source"
    source.write_bytes(b"ffconcat version 1.0\nfile neighbour.mp4\n")
    with pytest.raises(TranscodeFailed) as failed:
        probe(source, Limits())
    assert failed.value.code == "NOT_A_VIDEO"


def test_an_hls_playlist_is_not_opened(transcode_job, store):
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://169.254.169.254/latest/meta-data\n"
    assert_failed(transcode_job(playlist), store, "NOT_A_VIDEO")


# ---- URLs ----


def test_a_redirect_to_127_0_0_1_is_refused(transcode_job, store, clips):
    store.objects["internal/secret.mp4"] = clips.bytes("small.mp4")
    store.redirects["src/source"] = store.url("internal/secret.mp4")
    result = transcode_job(None)
    assert_failed(result, store, "INVALID_JOB")
    assert "redirect" in result.error.message
    assert ("GET", "internal/secret.mp4") not in store.requests  # never followed


def test_a_private_address_is_refused_unless_allowed(store, clips, settings):
    store.objects["src/source"] = clips.bytes("small.mp4")
    job = {
        "job_id": "j",
        "asset_id": "a",
        "source_url": store.url("src/source"),
        "outputs": {"1080p": store.url("o/1.mp4"), "720p": store.url("o/2.mp4")},
        "thumbnail_url": store.url("o/t.jpg"),
    }
    strict = Settings(transfer_attempts=1, workdir=settings.workdir)  # production: nothing allowed
    result = run(job, strict)
    assert (result.error.code, result.error.retryable) == ("INVALID_JOB", False)
    assert store.requests == []  # refused before any request
    by_network = Settings(transfer_attempts=1, workdir=settings.workdir, url_allow=("127.0.0.0/8",))
    assert run(job, by_network).status == "succeeded"


def test_a_name_resolving_to_loopback_is_refused_when_connecting(store, settings):
    # https passes the scheme check; the address is only known when the connection is made
    from conftest import job_input

    job = job_input(store, None, source_url="https://localhost:9/source?X-Amz-Signature=x")
    result = run(job, Settings(workdir=settings.workdir))  # nothing allowed, as in production
    assert (result.error.code, result.error.retryable) == ("INVALID_JOB", False), result.error
    assert "loopback" in result.error.message


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://example.com/a.mp4", "https://169.254.169.254/latest", "https://[::1]/x"],
)
def test_urls_refused_by_their_scheme_or_address(transcode_job, store, url):
    result = transcode_job(None, source_url=url)
    assert (result.error.code, result.error.retryable) == ("INVALID_JOB", False), result.error


# ---- causes, limits ----


def test_a_job_past_its_wall_clock_limit_fails_and_stops(store, clips, settings):
    store.objects["src/source"] = clips.bytes("landscape.mp4")  # a 2 s 1080p encode: seconds here
    job = {
        "job_id": "j",
        "asset_id": "a",
        "source_url": store.url("src/source"),
        "outputs": {"1080p": store.url("o/1.mp4"), "720p": store.url("o/2.mp4")},
        "thumbnail_url": store.url("o/t.jpg"),
    }
    limited = Settings(workdir=settings.workdir, url_allow=settings.url_allow, job_timeout_s=0.3)
    started = time.monotonic()
    result = run(job, limited)
    assert (result.error.code, result.error.retryable) == ("TOO_LONG", False)
    assert "wall-clock" in result.error.message
    assert time.monotonic() - started < 4  # stopped early: the whole encode takes longer here
    assert not store.puts


def test_audio_running_past_the_limit_is_too_long(transcode_job, store, tmp_path):
    # MPEG-TS declares no durations: only the decoded audio tells that the sound runs on.
    clip = make_clip(
        tmp_path / "long-audio.ts", width=160, height=90, duration=3, fmt="mpegts", codec="mpeg2video"
    )
    result = transcode_job(clip.read_bytes(), limits={"max_duration_s": 1.5})
    assert_failed(result, store, "TOO_LONG")
    print(result.error.message)


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (av.error.InvalidDataError(errno.EINVAL, "Invalid data"), "TRUNCATED", False),
        (av.error.EOFError(errno.EPIPE, "End of file"), "TRUNCATED", False),
        (av.error.MemoryError(errno.ENOMEM, "Cannot allocate memory"), "INTERNAL", True),
        (av.error.OSError(errno.EIO, "Input/output error"), "INTERNAL", True),
        (av.error.ExternalError(0, "Generic error in an external library"), "INTERNAL", True),
    ],
)
def test_decode_errors_are_classified_by_cause(error, code, retryable):
    failure = decode_failure(error, where="", hwaccel=False)
    assert (failure.code, failure.retryable) == (code, retryable)


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (av.error.ArgumentError(errno.EINVAL, "Invalid argument"), "UNSUPPORTED_CODEC", False),
        (MemoryError(), "INTERNAL", True),
        (av.error.OSError(errno.ENOSPC, "No space left on device"), "INTERNAL", True),
        (RuntimeError("CUDA error"), "INTERNAL", True),
    ],
)
def test_encoder_errors_are_classified_by_cause(error, code, retryable):
    failure = encode_failure("720p", error)
    assert (failure.code, failure.retryable) == (code, retryable)


def test_stale_work_directories_are_cleaned_at_start(tmp_path):
    stale = tmp_path / f"{WORKDIR_PREFIX}abc123"
    (stale / "deep").mkdir(parents=True)
    (stale / "deep" / "source").write_bytes(b"x" * 1000)
    kept = tmp_path / "someone-else"
    kept.mkdir()
    assert clean_stale_workdirs(Settings(workdir=tmp_path)) == 1
    assert not stale.exists() and kept.exists()


def test_started_workers_clean_up_after_an_oom_killed_one(tmp_path: Path):
    import subprocess
    import sys

    stale = tmp_path / f"{WORKDIR_PREFIX}killed"
    stale.mkdir()
    (stale / "source").write_bytes(b"partial")
    env = {"CODEX_GPU_WORKDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    job = '{"input": {"job_id": "x"}}'  # an invalid job: local mode runs it once and exits 1
    done = subprocess.run(
        [sys.executable, "-m", "codex_gpu", "--test_input", job], env=env, cwd=tmp_path, capture_output=True
    )
    assert done.returncode == 1
    assert not stale.exists()
