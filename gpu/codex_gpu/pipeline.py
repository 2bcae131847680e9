"""Decode the source once and feed every rendition's encoder, the AAC encoders and the thumbnail from it.

The main thread demuxes and decodes (with FFmpeg's own frame threads, or NVDEC), runs the source's
filters (deinterlace, tone-map, upright), sets each frame's output timestamp, and hands the same frame
to every rendition writer's thread.

The shared-frame invariant: PyAV's ``encode`` rebases a frame's pts *in place* when the frame's time
base differs from the encoder's, and ``reformat`` returns the frame itself when size and format match,
so a frame shared between threads is safe only while every encoder has the frame's own time base.
So every rendition encodes in the loop's one time base (1 / the highest rendition rate); a rendition
capped at a lower rate drops frames instead (rendition.py), and the writers assert the invariant.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.audio.resampler import AudioResampler
from av.codec.hwaccel import HWAccel
from av.stream import Disposition
from av.video.frame import PictureType

from codex_gpu import colour
from codex_gpu.encoders import NVENC, X264, CodecChoice, video_options
from codex_gpu.errors import TranscodeFailed, decode_failure, encode_failure
from codex_gpu.frames import SourceFilter, ThumbnailFile, source_filters, write_thumbnail
from codex_gpu.ladder import RenditionPlan, thumbnail_time
from codex_gpu.probe import SourceInfo, open_source
from codex_gpu.rendition import RenditionWriter, aac_rate
from codex_gpu.settings import Settings
from codex_gpu.transfer import job_timed_out

log = logging.getLogger(__name__)

Progress = Callable[[float], None]


@dataclass(frozen=True, kw_only=True)
class EncodedRendition:
    plan: RenditionPlan
    path: Path


@dataclass(frozen=True, kw_only=True)
class TranscodeOutcome:
    renditions: list[EncodedRendition]
    thumbnail: ThumbnailFile
    encoder: str
    decoder: str


def transcode(
    source: SourceInfo,
    plans: Sequence[RenditionPlan],
    workdir: Path,
    *,
    choice: CodecChoice,
    settings: Settings,
    max_duration_s: float,
    on_progress: Progress | None = None,
    deadline: float | None = None,
) -> TranscodeOutcome:
    tone_mapped = source.hdr is not None and settings.tone_map
    chain = source_filters(
        rotation=source.rotation,
        interlaced=source.interlaced,
        colour=colour.tone_map_filters(source) if tone_mapped else None,
    )
    tags = colour.output_tags(source, tone_mapped=tone_mapped)
    container = _open_source(source, choice)
    with container:
        video = next(s for s in container.streams.video if not s.disposition & Disposition.attached_pic)
        video.thread_type = "AUTO"  # frame and slice threads in the decoder
        audio = container.streams.audio[0] if source.has_audio else None
        time_base = Fraction(1) / max(plan.fps for plan in plans)
        writers = _open_writers(source, plans, workdir, choice, settings, time_base, tags)
        loop = _DecodeLoop(
            source, plans, workdir, writers, max_duration_s, on_progress, SourceFilter(chain), time_base
        )
        loop.deadline, loop.settings = deadline, settings
        try:
            loop.run(container, video, audio)
        finally:
            for writer in writers:
                writer.finish()
        failed = next((w for w in writers if w.error is not None), None)
        if failed is not None and failed.error is not None:
            raise encode_failure(failed.plan.name, failed.error) from failed.error
        decoder = (
            f"{video.codec_context.name} (nvdec)"
            if video.codec_context.is_hwaccel
            else (video.codec_context.name)
        )
        thumbnail = loop.thumbnail()
    return TranscodeOutcome(
        renditions=[EncodedRendition(plan=w.plan, path=w.path) for w in writers],
        thumbnail=thumbnail,
        encoder=writers[0].encoder,
        decoder=decoder,
    )


def _open_source(source: SourceInfo, choice: CodecChoice) -> av.container.InputContainer:
    if choice.nvdec:
        try:
            # Falls back to software for codecs NVDEC does not take; frames come back in system memory.
            return open_source(source.path, hwaccel=HWAccel("cuda", allow_software_fallback=True))
        except (av.error.FFmpegError, RuntimeError) as exc:
            log.warning("NVDEC could not open the source (%s): decoding in software", exc)
    return open_source(source.path)


def _open_writers(
    source: SourceInfo,
    plans: Sequence[RenditionPlan],
    workdir: Path,
    choice: CodecChoice,
    settings: Settings,
    time_base: Fraction,
    tags: colour.ColourTags,
) -> list[RenditionWriter]:
    audio_rate = aac_rate(source.audio_rate) if source.has_audio else None

    def open_all(encoder: str) -> list[RenditionWriter]:
        writers: list[RenditionWriter] = []
        try:
            for plan in plans:
                writers.append(
                    RenditionWriter(
                        plan,
                        workdir / f"{plan.name}.mp4",
                        encoder=encoder,
                        options=video_options(encoder, plan, settings),
                        audio_rate=audio_rate,
                        time_base=time_base,
                        colour=tags,
                    )
                )
        except BaseException:
            for writer in writers:
                writer.finish()
            raise
        return writers

    if choice.encoder == NVENC:
        try:
            return open_all(NVENC)
        except av.error.FFmpegError as exc:  # e.g. out of NVENC sessions: still produce the job
            log.warning("h264_nvenc failed to open (%s): encoding with libx264", exc)
    return open_all(X264)


class _DecodeLoop:
    def __init__(
        self,
        source: SourceInfo,
        plans: Sequence[RenditionPlan],
        workdir: Path,
        writers: list[RenditionWriter],
        max_duration_s: float,
        on_progress: Progress | None,
        filters: SourceFilter,
        time_base: Fraction,
    ) -> None:
        self.source = source
        self.writers = writers
        self.max_duration_s = max_duration_s
        self.on_progress = on_progress
        self.time_base = time_base
        self.fps = 1 / time_base
        self.filters = filters
        self.deadline: float | None = None
        self.settings = Settings()
        self.thumb_at = thumbnail_time(source.duration_s)
        self.thumb_size = (plans[0].width, plans[0].height)
        self.thumb_path = workdir / "thumbnail.jpg"
        self._thumbnail: ThumbnailFile | None = None
        self._last_frame: av.VideoFrame | None = None
        self._last_frame_at = 0.0
        self._last_pts = -1
        self._frames = 0
        self._video_end = 0.0
        self._audio_end = 0.0
        self._next_sample: int | None = None
        self._reported = 0.0
        self._resampler: AudioResampler | None = None
        self._audio_rate = aac_rate(source.audio_rate)

    def run(
        self, container: av.container.InputContainer, video: av.VideoStream, audio: av.AudioStream | None
    ) -> None:
        if audio is not None:
            self._resampler = AudioResampler(
                format="fltp", layout="stereo", rate=self._audio_rate, frame_size=1024
            )
        streams = [video] if audio is None else [video, audio]
        try:
            for packet in container.demux(streams):
                if self.deadline is not None and time.monotonic() > self.deadline:
                    raise job_timed_out(self.settings)
                if packet.stream is video:
                    for frame in packet.decode():
                        self._video(frame)
                else:
                    for frame in packet.decode():
                        self._audio(frame)
            for frame in self.filters.flush():
                self._share(frame)
            if self._resampler is not None:
                for resampled in self._resampler.resample(None):
                    self._send_audio(resampled)
        except av.error.FFmpegError as exc:
            at = f" after {self._video_end:.1f} s" if self._frames else ""
            raise decode_failure(exc, where=at, hwaccel=bool(video.codec_context.is_hwaccel)) from exc
        self._check_complete()

    def thumbnail(self) -> ThumbnailFile:
        if self._thumbnail is None:  # the video ended before the thumbnail's time: take its last frame
            assert self._last_frame is not None
            self._take_thumbnail(self._last_frame, self._last_frame_at)
        assert self._thumbnail is not None
        return self._thumbnail

    def _video(self, frame: av.VideoFrame) -> None:
        at = (frame.time - self.source.start_time_s) if frame.time is not None else self._video_end
        if at > self.max_duration_s:
            raise TranscodeFailed("TOO_LONG", f"the source runs past the {self.max_duration_s:.0f} s limit")
        for filtered in self.filters.push(frame):
            self._share(filtered)

    def _share(self, frame: av.VideoFrame) -> None:
        known = frame.pts is not None and frame.time_base is not None
        at = float(frame.pts * frame.time_base) - self.source.start_time_s if known else self._video_end
        pts = max(0, round(Fraction(at) * self.fps)) if known else self._last_pts + 1
        if pts <= self._last_pts:
            return  # over the frame-rate cap, or a duplicate timestamp
        self._last_pts = pts
        frame.pts, frame.time_base = pts, self.time_base
        # Decoders tag frames with the source's picture type, and libx264 and NVENC obey an I tag as a
        # forced keyframe: an all-intra source (or one read from rawvideo) would come out all-intra.
        # The ffmpeg CLI clears it the same way; our keyframes come from the 2 s GOP alone.
        frame.pict_type = PictureType.NONE
        for writer in self.writers:
            writer.put(frame)
        self._frames += 1
        self._video_end = max(self._video_end, at + float(self.time_base))
        if self._thumbnail is None:
            if at + 1e-6 >= self.thumb_at:
                self._take_thumbnail(frame, at)
            else:
                self._last_frame, self._last_frame_at = frame, at
        self._progress(at)

    def _audio(self, frame: av.AudioFrame) -> None:
        assert self._resampler is not None
        if self._next_sample is None:
            start = (frame.time - self.source.start_time_s) if frame.time is not None else 0.0
            self._next_sample = max(0, round(start * self._audio_rate))
        # The audio counts toward the limit too: a short video with hours of sound (or a header that
        # declares no duration) must not run on for as long as the sound does.
        if self._audio_end > self.max_duration_s:
            raise TranscodeFailed("TOO_LONG", f"the audio runs past the {self.max_duration_s:.0f} s limit")
        for resampled in self._resampler.resample(frame):
            self._send_audio(resampled)

    def _send_audio(self, frame: av.AudioFrame) -> None:
        assert self._next_sample is not None
        # Our own running sample count, in the encoder's time base, so no encoder rewrites the
        # timestamps of a frame the other writers share.
        frame.pts, frame.time_base = self._next_sample, Fraction(1, self._audio_rate)
        self._next_sample += frame.samples
        self._audio_end = self._next_sample / self._audio_rate
        for writer in self.writers:
            writer.put(frame)

    def _take_thumbnail(self, frame: av.VideoFrame, at: float) -> None:
        width, height = self.thumb_size
        self._thumbnail = write_thumbnail(frame, self.thumb_path, width, height, round(at, 3))
        self._last_frame = None

    def _progress(self, at: float) -> None:
        duration = self.source.duration_s
        if self.on_progress is None or not duration:
            return
        done = min(1.0, at / duration)
        if done - self._reported >= 0.05:
            self._reported = done
            self.on_progress(done)

    def _check_complete(self) -> None:
        if self._frames == 0:
            raise TranscodeFailed("EMPTY", "the video stream holds no decodable frames")
        declared = self.source.duration_s
        reached = max(self._video_end, self._audio_end)
        # The container's header still claims the full length of a file cut short in its middle.
        if declared and not math.isclose(declared, reached) and reached < 0.9 * declared - 0.5:
            raise TranscodeFailed(
                "TRUNCATED", f"the source declares {declared:.1f} s but its streams end at {reached:.1f} s"
            )
