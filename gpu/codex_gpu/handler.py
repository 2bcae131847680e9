"""The RunPod handler: a TranscodeJobV1 in ``job["input"]``, a TranscodeResultV1 out.

Error convention (see gpu/README.md): a failed job returns the result with ``status: "failed"`` and its
classified error at the top level as a JSON string. The runpod SDK pops a top-level ``error`` out of the
handler's return into the job's own ``error`` field, which marks the job FAILED on RunPod, and keeps the
rest of the result as ``output``. RunPod takes only a string there: a dict may end the job COMPLETED
with no output at all (runpod-python issue 299). ``codex_contracts.transcode.result_from_runpod``
parses the string and rebuilds the result.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import msgspec

from codex_contracts.transcode import Rendition, Thumbnail, Timings, TranscodeJobV1, TranscodeResultV1
from codex_gpu import encoders
from codex_gpu.errors import TranscodeFailed
from codex_gpu.ladder import plan_ladder
from codex_gpu.pipeline import EncodedRendition, TranscodeOutcome, transcode
from codex_gpu.probe import probe
from codex_gpu.settings import Settings
from codex_gpu.telemetry import GpuSampler
from codex_gpu.transfer import Transfers

log = logging.getLogger(__name__)

Report = Callable[[str, float], None]
# Share of the progress bar per stage: the download and upload are usually short beside the encode.
_STAGES = {"download": (0, 10), "probe": (10, 12), "transcode": (12, 92), "upload": (92, 100)}


WORKDIR_PREFIX = "codex-gpu-"


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The function given to ``runpod.serverless.start``."""
    result = run(job.get("input"), Settings.from_env(), report=_runpod_progress(job))
    output: dict[str, Any] = msgspec.to_builtins(result)
    if output.get("error") is not None:
        output["error"] = json.dumps(output["error"])  # RunPod wants a string (see the docstring)
    return output


def clean_stale_workdirs(settings: Settings) -> int:
    """Delete work directories left by a worker that died mid-job (OOM-killed, say): a warm worker
    runs one job at a time and calls this before its first, so every such directory is stale."""
    root = settings.workdir or Path(tempfile.gettempdir())
    removed = 0
    for stale in root.glob(WORKDIR_PREFIX + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
            removed += 1
    return removed


def run(raw_input: Any, settings: Settings, *, report: Report | None = None) -> TranscodeResultV1:
    started = time.monotonic()
    job_id = raw_input.get("job_id", "") if isinstance(raw_input, dict) else ""
    try:
        job = _validate(raw_input)
    except TranscodeFailed as failure:
        return _failed(str(job_id), failure, Timings(total_s=_since(started)), None, None, None)
    report = report or (lambda stage, fraction: None)
    return _Job(job, settings, report, started).run()


class _Job:
    def __init__(self, job: TranscodeJobV1, settings: Settings, report: Report, started: float) -> None:
        self.job, self.settings, self.report, self.started = job, settings, report, started
        self.deadline = started + settings.job_timeout_s
        self.timings: dict[str, float] = {}
        self.encoder: str | None = None
        self.decoder: str | None = None

    def run(self) -> TranscodeResultV1:
        sampler = GpuSampler()
        try:
            with (
                sampler,
                tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX, dir=self.settings.workdir) as tmp,
            ):
                renditions, thumbnail = self._work(Path(tmp))
        except TranscodeFailed as failure:
            log.warning("job %s failed: %s", self.job.job_id, failure)
            return self._result_failed(failure, sampler)
        except Exception as exc:
            log.exception("job %s failed unexpectedly", self.job.job_id)
            internal = TranscodeFailed("INTERNAL", f"{type(exc).__name__}: {exc}", retryable=True)
            return self._result_failed(internal, sampler)
        return TranscodeResultV1(
            job_id=self.job.job_id,
            status="succeeded",
            renditions=renditions,
            thumbnail=thumbnail,
            timings=self._timings(),
            encoder=self.encoder,
            decoder=self.decoder,
            gpu=sampler.info(),
        )

    def _work(self, workdir: Path) -> tuple[list[Rendition], Thumbnail]:
        job = self.job
        with Transfers(self.settings, deadline=self.deadline) as transfers:
            self._stage("download", 0.0)
            with self._timed("download_s"):
                source = workdir / "source"
                transfers.download(job.source_url, source, max_bytes=job.limits.max_source_bytes)

            self._stage("probe", 0.0)
            with self._timed("probe_s"):
                info = probe(source, job.limits)
                try:
                    plans = plan_ladder(info.display_width, info.display_height, info.fps, job.ladder)
                except ValueError as exc:  # the probe bounds sizes; a ladder error is still the source's
                    raise TranscodeFailed("UNSUPPORTED_CODEC", f"no rendition can be planned: {exc}") from exc
                choice = encoders.choose(self.settings)
            log.info(
                "job %s: %s %dx%d %s -> %s",
                job.job_id,
                info.codec,
                info.display_width,
                info.display_height,
                "with audio" if info.has_audio else "no audio",
                ", ".join(f"{p.name} {p.width}x{p.height}@{float(p.fps):.3g}" for p in plans),
            )

            with self._timed("transcode_s"):
                outcome = transcode(
                    info,
                    plans,
                    workdir,
                    choice=choice,
                    settings=self.settings,
                    max_duration_s=job.limits.max_duration_s,
                    on_progress=lambda fraction: self._stage("transcode", fraction),
                    deadline=self.deadline,
                )
                self.encoder, self.decoder = outcome.encoder, outcome.decoder
                renditions = [_describe(encoded) for encoded in outcome.renditions]
                thumbnail = _describe_thumbnail(outcome)

            # Only now that every output exists and reads back: nothing partial is ever reported.
            with self._timed("upload_s"):
                uploads = [(e.path, job.outputs[e.plan.name], "video/mp4") for e in outcome.renditions]
                uploads.append((outcome.thumbnail.path, job.thumbnail_url, "image/jpeg"))
                for number, (path, url, content_type) in enumerate(uploads):
                    self._stage("upload", number / len(uploads))
                    transfers.upload(path, url, content_type)
            self._stage("upload", 1.0)
        return renditions, thumbnail

    def _stage(self, stage: str, fraction: float) -> None:
        low, high = _STAGES[stage]
        self.report(stage, (low + (high - low) * fraction) / 100)

    def _timed(self, key: str) -> _Stopwatch:
        return _Stopwatch(self.timings, key)

    def _timings(self) -> Timings:
        return Timings(**{k: round(v, 3) for k, v in self.timings.items()}, total_s=_since(self.started))

    def _result_failed(self, failure: TranscodeFailed, sampler: GpuSampler) -> TranscodeResultV1:
        return _failed(self.job.job_id, failure, self._timings(), self.encoder, self.decoder, sampler.info())


class _Stopwatch:
    def __init__(self, into: dict[str, float], key: str) -> None:
        self.into, self.key = into, key

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc_info: object) -> None:
        self.into[self.key] = time.monotonic() - self.start


def _validate(raw_input: Any) -> TranscodeJobV1:
    try:
        job = msgspec.convert(raw_input, TranscodeJobV1)
    except msgspec.ValidationError as exc:
        raise TranscodeFailed("INVALID_JOB", f"the job does not match media.transcode.job.v1: {exc}") from exc
    names = [rung.name for rung in job.ladder]
    if len(set(names)) != len(names):
        raise TranscodeFailed("INVALID_JOB", f"the ladder repeats a rung name: {names}")
    missing = [name for name in names if name not in job.outputs]
    if missing:
        raise TranscodeFailed("INVALID_JOB", f"no output URL for rung(s) {missing}")
    return job


def _describe(encoded: EncodedRendition) -> Rendition:
    """What the file really holds, read back from it (never what we meant to write)."""
    size = encoded.path.stat().st_size
    with av.open(str(encoded.path)) as container:
        video = container.streams.video[0]
        duration = container.duration / av.time_base if container.duration else 0.0
        return Rendition(
            name=encoded.plan.name,
            width=video.codec_context.width,
            height=video.codec_context.height,
            codec=video.codec_context.name,
            profile=video.codec_context.profile or "",
            pix_fmt=video.codec_context.pix_fmt or "",
            fps=round(float(video.average_rate or encoded.plan.fps), 3),
            bitrate=round(size * 8 / duration) if duration else 0,
            size_bytes=size,
            duration_s=round(duration, 3),
            has_audio=bool(container.streams.audio),
        )


def _describe_thumbnail(outcome: TranscodeOutcome) -> Thumbnail:
    thumb = outcome.thumbnail
    return Thumbnail(
        width=thumb.width, height=thumb.height, size_bytes=thumb.path.stat().st_size, at_s=thumb.at_s
    )


def _failed(
    job_id: str,
    failure: TranscodeFailed,
    timings: Timings,
    encoder: str | None,
    decoder: str | None,
    gpu: Any,
) -> TranscodeResultV1:
    return TranscodeResultV1(
        job_id=job_id,
        status="failed",
        timings=timings,
        encoder=encoder,
        decoder=decoder,
        gpu=gpu,
        error=failure.body(),
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _runpod_progress(job: dict[str, Any]) -> Report:
    # progress_update POSTs to the job-done URL the worker loop was given; outside that loop (tests,
    # RunPod's local test_input.json mode) there is no such URL and the SDK would only log errors.
    under_worker = "RUNPOD_WEBHOOK_POST_OUTPUT" in os.environ and "id" in job

    def report(stage: str, fraction: float) -> None:
        log.info("job %s: %s %.0f%%", job.get("id"), stage, fraction * 100)
        if under_worker:
            from runpod.serverless import progress_update

            progress_update(job, {"stage": stage, "percent": round(fraction * 100)})

    return report
