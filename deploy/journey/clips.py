"""Videos for the journey, generated with PyAV: a test pattern with a tone, and a large noisy one."""

from __future__ import annotations

import os
from pathlib import Path

import av
from av.video.frame import PictureType


def pattern_clip(
    path: Path, *, width: int = 1920, height: int = 1080, seconds: float = 10, rate: int = 30
) -> Path:
    """`seconds` of lavfi's testsrc2 with a 440 Hz tone, H.264 + AAC in MP4."""
    with av.open(str(path), "w") as output:
        # A few MB: under the single-PUT threshold, so the journey shows both upload methods.
        video = output.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "30"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = output.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        with av.open(f"testsrc2=size={width}x{height}:rate={rate}:duration={seconds}", format="lavfi") as src:
            for frame in src.decode(video=0):
                frame.pict_type = PictureType.NONE  # let the encoder place keyframes
                output.mux(video.encode(frame))
        output.mux(video.encode(None))
        with av.open(f"sine=frequency=440:duration={seconds}:sample_rate=48000", format="lavfi") as tone:
            for sample in tone.decode(audio=0):
                sample.pts = None
                output.mux(sound.encode(sample))
        output.mux(sound.encode(None))
    return path


def noisy_clip(path: Path, *, min_bytes: int, width: int = 640, height: int = 360, rate: int = 30) -> Path:
    """Random noise (which compresses badly), encoded until the file passes `min_bytes`."""
    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "0"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        written, index = 0, 0
        while written < min_bytes * 1.05 or index < rate:
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(os.urandom(plane.buffer_size))
            frame.pts = index
            for packet in video.encode(frame):
                written += packet.size
                output.mux(packet)
            index += 1
        output.mux(video.encode(None))
    return path


def describe(path: Path) -> dict[str, object]:
    """What a player would see: container, video codec, size, duration."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "container": container.format.name,
            "codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration_s": round(float(container.duration or 0) / 1_000_000, 2),
        }
