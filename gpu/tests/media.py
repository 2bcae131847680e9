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
    audio_duration: float | None = None,
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
        seconds = duration if audio_duration is None else audio_duration
        tone = av.open(f"sine=frequency=440:duration={seconds}:sample_rate=48000", format="lavfi")
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


def set_pixel_aspect(path: Path, h_spacing: int, v_spacing: int) -> Path:
    """Give the video track of an MP4 written with its moov last a ``pasp`` box (sample aspect ratio
    h:v), as a camera or a hostile uploader may. PyAV's encoders take the frames' own 1:1 instead."""
    data = bytearray(path.read_bytes())

    def children(start: int, end: int) -> dict[str, tuple[int, int]]:
        found, offset = {}, start
        while offset + 8 <= end:
            size, kind = struct.unpack_from(">I4s", data, offset)
            found.setdefault(kind.decode(), (offset, size))
            offset += size
        return found

    chain = [children(0, len(data))["moov"]]
    for name in ("trak", "mdia", "minf", "stbl", "stsd"):
        offset, size = chain[-1]
        chain.append(children(offset + 8, offset + size)[name])
    stsd_offset, _ = chain[-1]
    entry = stsd_offset + 16  # size, type, version and flags, entry count
    (entry_size,) = struct.unpack_from(">I", data, entry)
    assert chain[0][0] + chain[0][1] == len(data), "the moov box must come last"
    chain.append((entry, entry_size))
    pasp = struct.pack(">I4sII", 16, b"pasp", h_spacing, v_spacing)
    data[entry + entry_size : entry + entry_size] = pasp
    for offset, size in chain:  # every box around the sample entry grows by the new box
        struct.pack_into(">I", data, offset, size + len(pasp))
    path.write_bytes(bytes(data))
    return path


def make_uniform_clip(
    path: Path,
    *,
    width: int,
    height: int,
    frames: int,
    luma: int,
    colour: tuple[int, int, int, int] | None = None,
) -> Path:
    """A flat grey H.264 clip (limited-range luma ``luma``), tagged with ``colour`` (AVCOL primaries,
    trc, space, range) when given: e.g. HLG's 75 % signal, its reference white."""
    output = av.open(str(path), "w", format="mp4")
    video = output.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    if colour is not None:
        context = video.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = colour
    for number in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane, value in zip(frame.planes, (luma, 128, 128), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = number
        frame.time_base = Fraction(1, 25)
        output.mux(video.encode(frame))
    output.mux(video.encode(None))
    output.close()
    return path


def mean_luma(path: Path) -> float:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        plane = frame.planes[0]
        data = bytes(plane)
        rows = [
            data[row * plane.line_size : row * plane.line_size + plane.width] for row in range(plane.height)
        ]
        return sum(sum(row) for row in rows) / (plane.width * plane.height)


def combing(path: Path) -> float:
    """How much neighbouring rows differ beyond what rows two apart do: interlaced motion shows as
    combs (each field a moment apart), a deinterlaced or progressive picture has little of it."""
    with av.open(str(path)) as container:
        frames = [f for _, f in zip(range(8), container.decode(video=0), strict=False)]
    total = 0.0
    for frame in frames[2:]:
        plane = frame.reformat(format="gray").planes[0]
        data = bytes(plane)
        rows = [data[r * plane.line_size : r * plane.line_size + plane.width] for r in range(plane.height)]
        for r in range(1, len(rows) - 1):
            above, here, below = rows[r - 1], rows[r], rows[r + 1]
            total += sum(abs(2 * h - a - b) for a, h, b in zip(above, here, below, strict=True))
    return total / max(1, len(frames) - 2)
