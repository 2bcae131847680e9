"""The handler as the runpod SDK runs it: its error convention, progress updates and local mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from conftest import job_input
from runpod.serverless.modules.rp_job import run_job

from codex_contracts.transcode import result_from_runpod
from codex_gpu import encoders
from codex_gpu.handler import handler
from codex_gpu.settings import Settings


@pytest.fixture
def worker_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CODEX_GPU_TRANSFER_ATTEMPTS", "1")
    monkeypatch.setenv("CODEX_GPU_WORKDIR", str(tmp_path))
    monkeypatch.setenv("CODEX_GPU_URL_ALLOW", "127.0.0.1")  # the dev store


def test_sdk_marks_a_classified_failure_failed_and_keeps_the_result(worker_env, store):
    job = {"id": "rp-1", "input": job_input(store, b"not a video at all")}
    sdk_result = asyncio.run(run_job(handler, job))
    # The SDK lifts our error into the job's error (RunPod then reports FAILED) as the string RunPod
    # requires (a dict there may end the job COMPLETED with no output: runpod-python issue 299) ...
    assert isinstance(sdk_result["error"], str)
    error = json.loads(sdk_result["error"])
    assert error == {"code": "NOT_A_VIDEO", "message": error["message"], "retryable": False}
    # ... and keeps the rest of the result as output.
    assert sdk_result["output"]["status"] == "failed"
    assert sdk_result["output"]["job_id"] == "job-1"
    rebuilt = result_from_runpod("job-1", {"status": "FAILED", **sdk_result})
    assert rebuilt.status == "failed" and rebuilt.error.code == "NOT_A_VIDEO"


def test_sdk_completes_a_successful_job_with_the_whole_result(worker_env, store, clips):
    job = {"id": "rp-2", "input": job_input(store, clips.bytes("small.mp4"))}
    sdk_result = asyncio.run(run_job(handler, job))
    assert "error" not in sdk_result
    rebuilt = result_from_runpod("job-1", {"status": "COMPLETED", **sdk_result})
    assert rebuilt.status == "succeeded" and [r.name for r in rebuilt.renditions] == ["720p"]


def test_an_uncaught_worker_crash_reads_as_retryable_internal():
    body = {"status": "FAILED", "error": json.dumps({"error_type": "MemoryError", "error_message": "boom"})}
    result = result_from_runpod("job-9", body)
    assert (result.error.code, result.error.retryable, result.error.message) == ("INTERNAL", True, "boom")


def test_progress_goes_to_runpod_under_the_worker_loop(worker_env, store, clips, monkeypatch):
    import runpod.serverless

    sent = []
    monkeypatch.setenv("RUNPOD_WEBHOOK_POST_OUTPUT", "http://127.0.0.1:9/job-done")
    monkeypatch.setattr(runpod.serverless, "progress_update", lambda job, progress: sent.append(progress))
    output = handler({"id": "rp-3", "input": job_input(store, clips.bytes("small.mp4"))})
    assert output["status"] == "succeeded"
    assert sent[0] == {"stage": "download", "percent": 0}
    assert sent[-1] == {"stage": "upload", "percent": 100}
    assert [p["percent"] for p in sent] == sorted(p["percent"] for p in sent)


@pytest.mark.skipif(encoders.nvdec_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_worker_chooses_libx264_and_software_decoding():
    choice = encoders.choose(Settings())
    assert choice == encoders.CodecChoice(encoder="libx264", nvdec=False)
    assert encoders.choose(Settings(nvenc=False, nvdec=False)) == choice


def test_local_mode_runs_a_job_and_exits_by_its_outcome(store, clips, tmp_path):
    """``python -m codex_gpu --test_input ...`` is RunPod's local mode (test_input.json works the same)."""
    env = {
        "CODEX_GPU_TRANSFER_ATTEMPTS": "1",
        "CODEX_GPU_WORKDIR": str(tmp_path),
        "CODEX_GPU_URL_ALLOW": "127.0.0.1",
        "PATH": "/usr/bin:/bin",
    }
    good = json.dumps({"input": job_input(store, clips.bytes("small.mp4"))})
    done = subprocess.run(
        [sys.executable, "-m", "codex_gpu", "--test_input", good],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "out/720p.mp4" in store.puts and "out/thumb.jpg" in store.puts
    assert "secretsignature" not in done.stdout + done.stderr

    store.puts.clear()
    bad = json.dumps({"input": job_input(store, b"")})
    failed = subprocess.run(
        [sys.executable, "-m", "codex_gpu", "--test_input", bad],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "EMPTY" in failed.stdout + failed.stderr
    assert not store.puts


def test_a_completed_job_without_the_workers_result_reads_as_retryable_internal():
    # What RunPod makes of a non-string error (runpod-python issue 299) or of a result it lost.
    result = result_from_runpod("job-7", {"id": "rp-7", "status": "COMPLETED"})
    assert (result.status, result.error.code, result.error.retryable) == ("failed", "INTERNAL", True)


def test_the_error_json_string_is_parsed_back():
    error = json.dumps({"code": "TOO_LONG", "message": "the job ran past", "retryable": False})
    body = {"status": "FAILED", "error": error, "output": {"job_id": "job-8", "status": "failed"}}
    result = result_from_runpod("job-8", body)
    assert (result.error.code, result.error.retryable, result.error.message) == (
        "TOO_LONG",
        False,
        "the job ran past",
    )
