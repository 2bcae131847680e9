"""Per-frame helpers of the decode loop: the source's filters (deinterlace, tone-map, upright) and the
JPEG thumbnail."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import av.filter
from av.video.reformatter import Interpolation, VideoReformatter

_TURNS = {90: ("transpose", "clock"), 180: ("hflip", ""), 270: ("transpose", "cclock")}


def source_filters(
    *, rotation: int, interlaced: bool, colour: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """The filters every decoded frame goes through before it is shared with the renditions, in order:
    deinterlace (bwdif: one frame out per frame in, fields blended by motion; before any scaling,
    which would smear the fields together), colour (HDR tone-mapping), then turn upright."""
    chain: list[tuple[str, str]] = []
    if interlaced:
        chain.append(("bwdif", "mode=send_frame:parity=auto:deint=all"))
    chain.extend(colour or [])
    if rotation == 180:
        chain.extend([("hflip", ""), ("vflip", "")])
    elif rotation in _TURNS:
        chain.append(_TURNS[rotation])
    return chain


class SourceFilter:
    """Runs frames through ``source_filters``' chain (one graph, built on the first frame). bwdif holds
    a frame back to look ahead, so a push may give no frame and ``flush`` gives the last ones."""

    def __init__(self, chain: list[tuple[str, str]]) -> None:
        self._chain = chain
        self._graph: av.filter.Graph | None = None

    def __bool__(self) -> bool:
        return bool(self._chain)

    def push(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        if not self._chain:
            return [frame]
        if self._graph is None:
            self._graph = self._build(frame)
        self._graph.vpush(frame)
        return self._pull()

    def flush(self) -> list[av.VideoFrame]:
        if self._graph is None:
            return []
        self._graph.vpush(None)
        return self._pull()

    def _build(self, frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        nodes = [
            graph.add_buffer(
                width=frame.width,
                height=frame.height,
                format=frame.format,
                time_base=frame.time_base or Fraction(1, 1000),
            )
        ]
        for name, args in self._chain:
            nodes.append(graph.add(name, args or None))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        return graph

    def _pull(self) -> list[av.VideoFrame]:
        assert self._graph is not None
        frames: list[av.VideoFrame] = []
        while True:
            try:
                frames.append(self._graph.vpull())
            except (av.error.BlockingIOError, av.error.EOFError):
                return frames


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
