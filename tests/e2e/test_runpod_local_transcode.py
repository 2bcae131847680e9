"""The real GPU transcode worker (gpu/, `python -m codex_gpu`) running unchanged against the local RunPod
endpoint: a tiny generated clip in, a ladder of MP4s and a thumbnail out, the result in /status and in
the webhook. Source and outputs travel through presigned URLs of a real S3 API (the test's bucket), as
they will from media-dispatch. On a machine without NVENC it encodes with libx264."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from codex_contracts.transcode import TranscodeJobV1, result_from_runpod
from codex_platform.storage import Storage

# A 1.5 s 320x180 clip with a tone, made with the gpu/ environment's PyAV (the test venv has none).
MAKE_CLIP = """
import sys, av
from av.video.frame import PictureType
out = av.open(sys.argv[1], "w")
video = out.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
sound = out.add_stream("aac", rate=48000)
sound.layout = "stereo"
with av.open("testsrc2=size=320x180:rate=15:duration=1.5", format="lavfi") as pattern:
    for frame in pattern.decode(video=0):
        frame.pict_type = PictureType.NONE
        out.mux(video.encode(frame))
out.mux(video.encode(None))
with av.open("sine=frequency=440:duration=1.5:sample_rate=48000", format="lavfi") as tone:
    for frame in tone.decode(audio=0):
        frame.pts = None
        out.mux(sound.encode(frame))
out.mux(sound.encode(None))
out.close()
"""


async def test_the_transcode_worker_runs_a_job_through_the_local_endpoint(
    runpod_worker_python: Path,
    runpod_local_factory: Callable[..., Any],
    storage: Storage,
    runpod_webhook_receiver: Any,
    tmp_path: Path,
) -> None:
    clip = tmp_path / "source.mp4"
    subprocess.run([str(runpod_worker_python), "-c", MAKE_CLIP, str(clip)], check=True, timeout=60)
    await storage.put_bytes("uploads/source.mp4", clip.read_bytes(), content_type="video/mp4")

    server = runpod_local_factory(
        endpoints="transcode",
        workers=1,
        worker_command=f"{runpod_worker_python} -m codex_gpu",
        # the test's S3 server (moto) listens on 127.0.0.1 over http: allowed as in development
        worker_env_json=json.dumps(
            {"CODEX_GPU_WORKDIR": str(tmp_path), "CODEX_GPU_URL_ALLOW": "127.0.0.1,localhost"}
        ),
        worker_poll_wait_s=2,
        sweep_interval_s=0.05,
    )
    hook, webhook_url = runpod_webhook_receiver.new_url()
    ladder = [{"name": "180p", "short_side": 180}, {"name": "144p", "short_side": 144}]
    outputs = {
        rung["name"]: await storage.presign_put(f"assets/{rung['name']}.mp4", content_type="video/mp4")
        for rung in ladder
    }
    job = {
        "job_id": "e2e-transcode-1",
        "asset_id": "asset-1",
        "source_url": await storage.presign_get("uploads/source.mp4"),
        "outputs": outputs,
        "thumbnail_url": await storage.presign_put("assets/thumbnail.jpg", content_type="image/jpeg"),
        "ladder": ladder,
    }
    msgspec.convert(job, TranscodeJobV1)  # the input is what media-dispatch will send
    job_id = server.run("transcode", job, webhook=webhook_url)

    # the worker process starts (imports PyAV, probes encoders), takes the job and transcodes it
    done = await asyncio.to_thread(server.wait_for, "transcode", job_id, "COMPLETED", "FAILED", timeout=120)
    assert done["status"] == "COMPLETED", done
    result = result_from_runpod(job["job_id"], done)
    assert result.status == "succeeded" and result.error is None
    assert {(r.name, r.width, r.height, r.codec) for r in result.renditions} == {
        ("180p", 320, 180, "h264"),
        ("144p", 256, 144, "h264"),
    }
    for rendition in result.renditions:
        stored = await storage.head(f"assets/{rendition.name}.mp4")
        assert stored is not None and stored.size == rendition.size_bytes
        mp4 = await storage.get_bytes(f"assets/{rendition.name}.mp4")
        assert mp4 is not None and mp4[4:8] == b"ftyp"
    thumbnail = await storage.get_bytes("assets/thumbnail.jpg")
    assert thumbnail is not None and thumbnail[:2] == b"\xff\xd8"

    [webhook] = await asyncio.to_thread(runpod_webhook_receiver.wait_for, hook)
    assert webhook.body == {**done, "input": job, "webhook": webhook_url}

    # A source that is no video: the worker's classified error travels as the JSON string RunPod wants,
    # the job is FAILED (not COMPLETED without output), and the contract reads the error back.
    await storage.put_bytes("uploads/notes.txt", b"not a video, just text\n" * 20, content_type="video/mp4")
    bad = {**job, "job_id": "e2e-transcode-2", "source_url": await storage.presign_get("uploads/notes.txt")}
    failed_id = server.run("transcode", bad)
    failed = await asyncio.to_thread(
        server.wait_for, "transcode", failed_id, "COMPLETED", "FAILED", timeout=60
    )
    assert failed["status"] == "FAILED" and isinstance(failed["error"], str), failed
    refused = result_from_runpod(bad["job_id"], failed)
    assert refused.status == "failed" and refused.error is not None
    assert (refused.error.code, refused.error.retryable) == ("NOT_A_VIDEO", False)
    assert failed["output"]["job_id"] == "e2e-transcode-2" and failed["output"]["renditions"] == []
