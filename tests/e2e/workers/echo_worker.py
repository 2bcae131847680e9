"""A small RunPod handler run by the SDK's real worker loop (`runpod.serverless.start`), for the local
endpoint's end-to-end tests. What it does is steered by the job input:

- ``sleep``: seconds to wait first (asynchronously, so the SDK's stop channel can cancel it);
- ``raise``: raise an exception with that message (the SDK reports it as the job's error);
- ``error``: return ``{"error": ...}`` (the SDK marks the job FAILED with that error);
- ``fail_once``: a file path; the first run creates it and raises, later runs succeed;
- ``sleep_once``: ``[path, seconds, later_seconds]``; the first run creates the file and sleeps
  ``seconds``, later runs sleep ``later_seconds``;
- ``whoami``: answer what the worker process holds: its HOME and the API key the SDK loaded;
- anything else: returned as ``{"echo": input, "worker": <worker id>}``.
"""

import asyncio
import os
from pathlib import Path

import runpod


async def handler(job):
    job_input = job["input"]
    if job_input.get("whoami"):
        return {"home": os.environ.get("HOME"), "sdk_api_key": runpod.api_key}
    if job_input.get("sleep"):
        await asyncio.sleep(float(job_input["sleep"]))
    if job_input.get("sleep_once"):
        path, seconds, later_seconds = job_input["sleep_once"]
        if not Path(path).exists():
            Path(path).write_text("slept once")
            await asyncio.sleep(float(seconds))
        else:
            await asyncio.sleep(float(later_seconds))
    if job_input.get("raise"):
        raise RuntimeError(job_input["raise"])
    if job_input.get("error"):
        return {"error": job_input["error"]}
    marker = job_input.get("fail_once")
    if marker and not Path(marker).exists():
        Path(marker).write_text("failed once")
        raise RuntimeError("failing the first run on purpose")
    return {"echo": job_input, "worker": os.environ.get("RUNPOD_POD_ID")}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
