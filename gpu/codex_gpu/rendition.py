"""One rendition's encoder: scales shared frames to its size, encodes and muxes them on its own thread.

The decode loop hands every rendition the same decoded frames (decode once); each writer reads them
and never writes to them, so no copy is made. That holds only while the encoder's time base is the
frame's (PyAV's ``encode`` rebases pts in place otherwise, and ``reformat`` hands back the shared
frame itself when there is nothing to convert): every writer encodes in the loop's time base, asserts
it, and meets a lower frame-rate cap by dropping frames. PyAV releases the GIL in scaling, encoding
and muxing, so the writers and the decoder run in parallel.
"""

from __future__ import annotations

import math
import queue
import threading
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import ColorRange, Interpolation, VideoReformatter

from codex_gpu.colour import ColourTags
from codex_gpu.ladder import RenditionPlan

# Bilinear: the benchmark's ffmpeg command uses the same flag, and for a 1.5x downscale it is close
# to bicubic in quality at a fraction of the cost.
SCALER = Interpolation.BILINEAR
QUEUE_DEPTH = 8  # frames buffered per rendition: bounds memory (8 x 3 MB at 1080p)
AAC_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}


def aac_rate(source_rate: int | None) -> int:
    return source_rate if source_rate in AAC_RATES else 48000


class RenditionWriter:
    def __init__(
        self,
        plan: RenditionPlan,
        path: Path,
        *,
        encoder: str,
        options: dict[str, str],
        audio_rate: int | None,
        time_base: Fraction | None = None,
        colour: ColourTags | None = None,
    ) -> None:
        self.plan = plan
        self.path = path
        self.encoder = encoder
        # The decode loop's time base, shared by every rendition (see the module's docstring).
        self.time_base = time_base or Fraction(1) / plan.fps
        if plan.fps * self.time_base > 1:
            raise ValueError(f"{plan.name}: {plan.fps} fps does not fit the time base {self.time_base}")
        self._last_slot = -1
        self.error: BaseException | None = None
        # Our own scaler: frame.reformat() keeps one scaler on the frame itself, and the frames are
        # shared, so two threads would drive the same SwsContext at once (a deadlock, seen in practice).
        self._scaler = VideoReformatter()
        # faststart: the muxer rewrites the file at close so that moov comes before mdat.
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            self._video = self._container.add_stream(encoder, rate=plan.fps, options=options)
            self._video.width, self._video.height, self._video.pix_fmt = plan.width, plan.height, "yuv420p"
            self._video.time_base = self.time_base
            if colour is not None:  # every output says what its pixels are
                context = self._video.codec_context
                context.color_primaries, context.color_trc = colour.primaries, colour.trc
                context.colorspace, context.color_range = colour.space, colour.range
            # PyAV defaults codecs to slice threads; x264 then threads within each frame. Frame threads
            # (what the ffmpeg CLI uses) give more throughput for the same output quality.
            self._video.thread_type = "FRAME"
            self._audio = None
            if audio_rate is not None:
                self._audio = self._container.add_stream("aac", rate=audio_rate)
                self._audio.layout = "stereo"
                self._audio.bit_rate = plan.rung.audio_bitrate_kbps * 1000
            self._container.start_encoding()  # opens the encoders now, so a failure shows before decoding
        except BaseException:
            self._container.close()
            raise
        self._queue: queue.Queue[av.VideoFrame | av.AudioFrame | None] = queue.Queue(QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name=f"encode-{plan.name}", daemon=True)
        self._thread.start()

    def put(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        if isinstance(frame, av.VideoFrame):
            # The invariant that makes sharing safe: encode() will not touch this frame's pts.
            assert frame.time_base == self.time_base, (frame.time_base, self.time_base)
            assert frame.pts is not None
            # Below the loop's rate: keep the first frame of each of this rendition's frame slots.
            slot = math.floor(frame.pts * self.time_base * self.plan.fps + Fraction(1, 1000))
            if slot <= self._last_slot:
                return
            self._last_slot = slot
        self._queue.put(frame)

    def finish(self) -> None:
        """Flush and close the file; any error of the encoding thread is left in ``error``."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        ended = False
        try:
            while (frame := self._queue.get()) is not None:
                if isinstance(frame, av.VideoFrame):
                    self._encode_video(frame)
                elif self._audio is not None:
                    self._container.mux(self._audio.encode(frame))
            ended = True
            self._container.mux(self._video.encode(None))
            if self._audio is not None:
                self._container.mux(self._audio.encode(None))
        except BaseException as exc:
            self.error = exc
            while not ended and self._queue.get() is not None:  # keep taking frames: never block the decoder
                pass
        finally:
            try:
                self._container.close()
            except Exception as exc:
                self.error = self.error or exc

    def _encode_video(self, frame: av.VideoFrame) -> None:
        scaled = self._scaler.reformat(
            frame,
            width=self.plan.width,
            height=self.plan.height,
            format="yuv420p",
            interpolation=SCALER,
            # a full-range source (phones, screen captures) is brought to the limited range it is tagged
            src_color_range=ColorRange.JPEG if frame.color_range == ColorRange.JPEG else None,
            dst_color_range=ColorRange.MPEG if frame.color_range == ColorRange.JPEG else None,
        )
        self._container.mux(self._video.encode(scaled))
