"""Per-frame helpers of the decode loop: turning frames upright and the JPEG thumbnail."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter
from av.video.reformatter import Interpolation, VideoReformatter

_TURNS = {90: ("transpose=clock",), 180: ("hflip", "vflip"), 270: ("transpose=cclock",)}


class Upright:
    """Turns frames that carry a rotation (phones record portrait as rotated landscape) upright, so the
    encoded pixels are what the viewer saw; players then need no rotation metadata."""

    def __init__(self, rotation: int) -> None:
        self._filters = _TURNS.get(rotation, ())
        self._graph: av.filter.Graph | None = None

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if not self._filters:
            return frame
        if self._graph is None:
            self._graph = av.filter.Graph()
            nodes = [
                self._graph.add_buffer(
                    width=frame.width,
                    height=frame.height,
                    format=frame.format,
                    time_base=frame.time_base or Fraction(1, 1000),
                )
            ]
            for spec in self._filters:
                name, _, args = spec.partition("=")
                nodes.append(self._graph.add(name, args or None))
            nodes.append(self._graph.add("buffersink"))
            self._graph.link_nodes(*nodes).configure()
        self._graph.vpush(frame)
        return self._graph.vpull()


@dataclass(frozen=True, kw_only=True)
class ThumbnailFile:
    path: Path
    width: int
    height: int
    at_s: float


def write_thumbnail(frame: av.VideoFrame, path: Path, width: int, height: int, at_s: float) -> ThumbnailFile:
    """A baseline JPEG of ``frame`` at ``width`` x ``height``, quality about ffmpeg's ``-q:v 3``."""
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    # The frame is shared with the rendition encoders: keep its time base so that encoding here never
    # rewrites its timestamp (reformat returns the frame itself when there is nothing to convert).
    encoder.time_base = frame.time_base or Fraction(1, 25)
    encoder.options = {"qmin": "3", "qmax": "3"}
    # A scaler of its own: the frame's built-in one may be in use by a rendition thread right now.
    image = VideoReformatter().reformat(
        frame, width=width, height=height, format="yuvj420p", interpolation=Interpolation.BICUBIC
    )
    packets = encoder.encode(image) + encoder.encode(None)
    path.write_bytes(b"".join(bytes(packet) for packet in packets))
    return ThumbnailFile(path=path, width=width, height=height, at_s=at_s)
