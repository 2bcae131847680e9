"""Open a downloaded source, read what it holds, and classify what is wrong with it before any encoding.

The first video frame is decoded here too: a source that cannot give one frame fails fast, and the frame
tells the real size, pixel format and rotation (the container's numbers can be missing or stale).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.stream import Disposition

from codex_contracts.transcode import Limits
from codex_gpu import mp4
from codex_gpu.errors import TranscodeFailed

# Demuxers FFmpeg accepts that do not hold video: text art (a .txt is a "tty" video to FFmpeg) and
# single still images.
_NOT_VIDEO_FORMATS = {"tty", "bin", "xbin", "adf", "idf", "image2", "apng", "webp"}
_NOT_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    path: Path
    size_bytes: int
    format_name: str
    duration_s: float | None
    start_time_s: float
    codec: str
    width: int  # as decoded
    height: int
    display_width: int  # after sample aspect ratio and rotation: what the viewer sees
    display_height: int
    rotation: int  # degrees clockwise to turn decoded frames upright: 0, 90, 180 or 270
    fps: Fraction | None
    pix_fmt: str
    has_audio: bool
    audio_codec: str | None
    audio_rate: int | None


def probe(path: Path, limits: Limits) -> SourceInfo:
    size = path.stat().st_size
    if size == 0:
        raise TranscodeFailed("EMPTY", "the source is an empty file")
    if size > limits.max_source_bytes:
        raise TranscodeFailed(
            "TOO_LARGE", f"the source is {size} bytes, over the {limits.max_source_bytes} limit"
        )

    with path.open("rb") as file:
        is_mp4 = mp4.looks_like_iso_bmff(file.read(16))
    layout = mp4.top_level_boxes(path) if is_mp4 else None
    if layout is not None and layout.truncated:
        raise TranscodeFailed("TRUNCATED", f"the MP4 ends inside its {layout.boxes[-1].type!r} box")

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if layout is not None and "moov" not in layout.types():
            raise TranscodeFailed(
                "TRUNCATED", "the MP4 has no 'moov' index: the upload was cut short"
            ) from exc
        raise TranscodeFailed(
            "NOT_A_VIDEO", f"FFmpeg cannot read the source as media: {exc.strerror}"
        ) from exc

    with container:
        return _inspect(container, path, size, limits)


def _inspect(container: av.container.InputContainer, path: Path, size: int, limits: Limits) -> SourceInfo:
    format_name = container.format.name
    if format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe"):
        raise TranscodeFailed(
            "NOT_A_VIDEO", f"the source is not a video (FFmpeg reads it as {format_name!r})"
        )

    videos = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    audios = list(container.streams.audio)
    if not videos:
        if audios:
            raise TranscodeFailed("NO_VIDEO_STREAM", "the source has audio but no video stream")
        raise TranscodeFailed("NOT_A_VIDEO", f"the source ({format_name}) holds no video or audio stream")
    video = videos[0]
    if video.codec_context is None:
        raise TranscodeFailed("UNSUPPORTED_CODEC", "no decoder for the source's video codec")
    codec = video.codec_context.name
    if codec in _NOT_VIDEO_CODECS:
        raise TranscodeFailed("NOT_A_VIDEO", f"the source is text, not video (codec {codec!r})")

    audio = audios[0] if audios and audios[0].codec_context is not None else None
    duration = _duration(container, video, audio)
    if duration is not None and duration > limits.max_duration_s:
        raise TranscodeFailed(
            "TOO_LONG", f"the source lasts {duration:.1f} s, over the {limits.max_duration_s:.0f} s limit"
        )

    first = _first_frame(container, video)
    rotation = (-first.rotation) % 360 if first.rotation % 90 == 0 else 0
    sar = video.sample_aspect_ratio
    display_w = round(first.width * sar) if sar and sar > 0 else first.width
    display_h = first.height
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w

    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    return SourceInfo(
        path=path,
        size_bytes=size,
        format_name=format_name,
        duration_s=duration,
        start_time_s=start,
        codec=codec,
        width=first.width,
        height=first.height,
        display_width=display_w,
        display_height=display_h,
        rotation=rotation,
        fps=video.average_rate or video.guessed_rate or video.base_rate,
        pix_fmt=first.format.name,
        has_audio=audio is not None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        audio_rate=audio.codec_context.sample_rate if audio is not None else None,
    )


def _duration(
    container: av.container.InputContainer, video: av.VideoStream, audio: av.AudioStream | None
) -> float | None:
    """The longer of the video and audio streams where they say; else the container's (which also
    counts subtitle and data streams)."""
    declared = [
        float(s.duration * s.time_base)
        for s in (video, audio)
        if s is not None and s.duration and s.time_base
    ]
    if declared:
        return max(declared)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _first_frame(container: av.container.InputContainer, video: av.VideoStream) -> av.VideoFrame:
    try:
        for frame in container.decode(video):
            return frame
    except av.error.DecoderNotFoundError as exc:
        raise TranscodeFailed("UNSUPPORTED_CODEC", f"no decoder for {video.codec_context.name!r}") from exc
    except (av.error.PatchWelcomeError, av.error.NotImplementedError) as exc:
        raise TranscodeFailed(
            "UNSUPPORTED_CODEC", f"the {video.codec_context.name!r} stream uses features FFmpeg cannot decode"
        ) from exc
    except av.error.FFmpegError as exc:
        raise TranscodeFailed(
            "TRUNCATED", f"the video stream is corrupt or cut short: {exc.strerror}"
        ) from exc
    raise TranscodeFailed("EMPTY", "the video stream holds no frames")
