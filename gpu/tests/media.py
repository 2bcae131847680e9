"""Test media: sources generated with PyAV (lavfi test patterns and tones), and checks of outputs."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType


def make_clip(
    path: Path,
    *,
    width: int,
    height: int,
    duration: float,
    rate: int = 30,
    codec: str = "libx264",
    audio: str | None = "aac",
    fmt: str | None = None,
    options: dict[str, str] | None = None,
    rotation: int | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode ``duration`` seconds of testsrc2 (and a 440 Hz tone when ``audio`` names a codec)."""
    output = av.open(str(path), "w", format=fmt)
    video = output.add_stream(codec, rate=rate, options=options or {})
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    if rotation is not None:
        video.set_display_rotation(rotation)
    sound = output.add_stream(audio, rate=48000) if audio else None
    if sound is not None:
        sound.layout = "stereo"
    pattern = av.open(f"testsrc2=size={width}x{height}:rate={rate}:duration={duration}", format="lavfi")
    with pattern:
        for frame in pattern.decode(video=0):
            frame.pict_type = PictureType.NONE  # rawvideo frames are tagged I: let the encoder choose
            output.mux(video.encode(frame))
    output.mux(video.encode(None))
    if sound is not None:
        tone = av.open(f"sine=frequency=440:duration={duration}:sample_rate=48000", format="lavfi")
        with tone:
            for frame in tone.decode(audio=0):
                frame.pts = None
                output.mux(sound.encode(frame))
        output.mux(sound.encode(None))
    output.close()
    return path


def top_level_boxes(path: Path) -> list[str]:
    """Top-level MP4 box types, parsed here independently of the worker's own parser."""
    data = path.read_bytes()
    kinds, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        kinds.append(kind.decode())
        offset += size if size else len(data)
    return kinds


@dataclass(frozen=True)
class Mp4Facts:
    width: int
    height: int
    codec: str
    profile: str | None
    pix_fmt: str | None
    fps: Fraction | None
    duration: float
    has_audio: bool
    audio_codec: str | None
    audio_channels: int | None
    keyframe_times: list[float]
    boxes: list[str]


def inspect_mp4(path: Path) -> Mp4Facts:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        keyframes = [
            float(packet.pts * packet.time_base)
            for packet in container.demux(video)
            if packet.is_keyframe and packet.pts is not None
        ]
        return Mp4Facts(
            width=video.codec_context.width,
            height=video.codec_context.height,
            codec=video.codec_context.name,
            profile=video.codec_context.profile,
            pix_fmt=video.codec_context.pix_fmt,
            fps=video.average_rate,
            duration=container.duration / av.time_base,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            audio_channels=audio.codec_context.channels if audio else None,
            keyframe_times=sorted(keyframes),
            boxes=top_level_boxes(path),
        )


def decode_jpeg(data: bytes, path: Path) -> tuple[int, int]:
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "mjpeg"
        frame = next(container.decode(video=0))
        return frame.width, frame.height
