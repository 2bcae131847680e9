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
from codex_gpu.errors import TranscodeFailed, decode_failure

# av.open guesses the container from the bytes, so without a whitelist every demuxer FFmpeg has is
# reachable from an upload: concat (an ffconcat file opens other files), hls and other playlists
# (URLs), image sequences, text art. Only the containers a video platform accepts may open, and only
# local files: no demuxer may reach a network or another protocol through the source.
ACCEPTED_CONTAINERS = (
    "mov,mp4,m4a,3gp,3g2,mj2",  # MP4, MOV, 3GP (one demuxer in FFmpeg)
    "matroska,webm",
    "avi",
    "mpegts",
    "mpeg",  # MPEG program streams (.mpg, .vob)
    "flv",
    "asf",  # WMV
)
SOURCE_OPTIONS = {"format_whitelist": ",".join(ACCEPTED_CONTAINERS), "protocol_whitelist": "file"}
# Video codecs (by canonical name) the platform accepts; anything else is UNSUPPORTED_CODEC even when
# this FFmpeg could decode it (screen-capture, image and exotic codecs widen the attack surface).
ACCEPTED_VIDEO_CODECS = {
    "h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "prores", "dnxhd",
    "mjpeg", "h263", "flv1", "msmpeg4v2", "msmpeg4v3", "wmv1", "wmv2", "wmv3", "vc1", "dvvideo",
    "theora", "ffv1",
}  # fmt: skip
# Geometry a player can show and an encoder can take: a source over these is refused at probe.
MAX_SIDE = 8192
MAX_PIXELS = 36_000_000
MAX_ASPECT = 10.0  # long side over short side, after the sample aspect ratio (32:9 is 3.6)
MIN_SIDE = 16
_NOT_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf"}
_HDR_TRANSFERS = {16: "pq", 18: "hlg"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
_BT2020_PRIMARIES = 9


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
    interlaced: bool = False  # the stream or its first frame says its frames are interlaced
    color_primaries: int = 2  # AVCOL_PRI_* of the source (2: unspecified)
    color_trc: int = 2
    colorspace: int = 2
    color_range: int = 0  # AVCOL_RANGE_*: 1 limited (tv), 2 full (pc), 0 unspecified

    @property
    def hdr(self) -> str | None:
        """ "pq" or "hlg" for HDR transfers, "bt2020" for SDR in BT.2020 primaries; None for BT.709/601."""
        if self.color_trc in _HDR_TRANSFERS:
            return _HDR_TRANSFERS[self.color_trc]
        return "bt2020" if self.color_primaries == _BT2020_PRIMARIES else None


def open_source(path: Path, **kwargs: object) -> av.container.InputContainer:
    """Open a source with the container and protocol whitelists: the only way sources are opened."""
    return av.open(str(path), options=dict(SOURCE_OPTIONS), metadata_errors="ignore", **kwargs)  # type: ignore[call-overload,no-any-return]


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
        container = open_source(path)
    except av.error.FFmpegError as exc:
        if layout is not None and "moov" not in layout.types():
            raise TranscodeFailed(
                "TRUNCATED", "the MP4 has no 'moov' index: the upload was cut short"
            ) from exc
        raise TranscodeFailed(
            "NOT_A_VIDEO",
            f"the source is not in a container this platform accepts ({_accepted()}): {exc.strerror}",
        ) from exc

    with container:
        return _inspect(container, path, size, limits)


def _inspect(container: av.container.InputContainer, path: Path, size: int, limits: Limits) -> SourceInfo:
    format_name = container.format.name

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
    canonical = video.codec_context.codec.canonical_name
    if canonical not in ACCEPTED_VIDEO_CODECS:
        raise TranscodeFailed(
            "UNSUPPORTED_CODEC", f"the video codec {canonical!r} is not one this platform accepts"
        )

    audio = audios[0] if audios and audios[0].codec_context is not None else None
    duration = _duration(container, video, audio)
    if duration is not None and duration > limits.max_duration_s:
        raise TranscodeFailed(
            "TOO_LONG", f"the source lasts {duration:.1f} s, over the {limits.max_duration_s:.0f} s limit"
        )

    first = _first_frame(container, video)
    rotation = (-first.rotation) % 360 if first.rotation % 90 == 0 else 0
    display_w, display_h = _display_size(first.width, first.height, video.sample_aspect_ratio)
    if rotation in (90, 270):
        display_w, display_h = display_h, display_w
    context = video.codec_context
    field_order = getattr(context, "field_order", None)

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
        # AV_FIELD_TT/BB/TB/BT are 2 to 5 (0 unknown, 1 progressive)
        interlaced=bool(first.interlaced_frame) or (isinstance(field_order, int) and field_order >= 2),
        color_primaries=int(first.color_primaries or context.color_primaries or 2),
        color_trc=int(first.color_trc or context.color_trc or 2),
        colorspace=int(first.colorspace or context.colorspace or 2),
        color_range=int(first.color_range or context.color_range or 0),
    )


def _display_size(width: int, height: int, sar: Fraction | None) -> tuple[int, int]:
    """The size the viewer sees, refused (permanently) when no player or encoder should take it.

    Display width is coded width times the sample aspect ratio, which the container or bitstream sets
    to anything up to 65535:1: unbounded, it planned renditions 125 million pixels wide (or 0 wide).
    """
    for side in (width, height):
        if side > MAX_SIDE:
            raise TranscodeFailed(
                "TOO_LARGE", f"the picture is {width}x{height}, over {MAX_SIDE} px on a side"
            )
    display_w = width * float(sar) if sar and sar > 0 else float(width)
    long_side, short_side = max(display_w, height), min(display_w, height)
    if short_side < MIN_SIDE or long_side / short_side > MAX_ASPECT:
        raise TranscodeFailed(
            "UNSUPPORTED_CODEC",
            f"the picture's shape ({width}x{height}, sample aspect ratio {sar}) is outside what the platform "
            f"accepts (aspect ratio up to {MAX_ASPECT:g}:1, at least {MIN_SIDE} px on a side)",
        )
    if long_side > MAX_SIDE or display_w * height > MAX_PIXELS:
        raise TranscodeFailed(
            "TOO_LARGE",
            f"the picture displays at {display_w:.0f}x{height}, over {MAX_SIDE} px on a side or "
            f"{MAX_PIXELS // 1_000_000} MP",
        )
    return round(display_w), height


def _accepted() -> str:
    return "MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, WMV"


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
    except av.error.FFmpegError as exc:
        raise decode_failure(exc, where=" at its first frame", hwaccel=False) from exc
    raise TranscodeFailed("EMPTY", "the video stream holds no frames")
