"""``python -m codex_gpu`` (or ``codex-gpu``): the RunPod serverless worker.

Against RunPod (or the local RunPod-compatible endpoint) the SDK's worker loop takes jobs from
``RUNPOD_WEBHOOK_GET_JOB``; with no such variable it runs ``test_input.json`` from the working directory
once (RunPod's local mode).
"""

from __future__ import annotations

import logging
import os
import sys

from codex_gpu import encoders
from codex_gpu.handler import clean_stale_workdirs, handler
from codex_gpu.settings import Settings, SettingsError


def main() -> None:
    # The SDK logs at DEBUG by default, and at DEBUG it prints whole jobs: presigned URLs, signatures
    # included. Its logger reads the level when runpod is first imported, hence the late import.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")
    import runpod

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("codex_gpu")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        log.error("configuration error: %s", exc)
        sys.exit(2)
    if removed := clean_stale_workdirs(settings):
        log.warning("removed %d work directories left by an earlier worker that died mid-job", removed)
    choice = encoders.choose(settings)  # probe NVENC/NVDEC once, before the first job
    log.info("encoder %s, NVDEC %s", choice.encoder, "on" if choice.nvdec else "off")
    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
