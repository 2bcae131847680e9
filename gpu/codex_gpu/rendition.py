"""One rendition's encoder: scales shared frames to its size, encodes and muxes them on its own thread.

The decode loop hands every rendition the same decoded frames (decode once); each writer reads them
and never writes to them, so no copy is made. PyAV releases the GIL in scaling, encoding and muxing,
so the writers and the decoder run in parallel.
"""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import Interpolation, VideoReformatter

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
    ) -> None:
        self.plan = plan
        self.path = path
        self.encoder = encoder
        self.time_base = Fraction(1) / plan.fps
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
            frame, width=self.plan.width, height=self.plan.height, format="yuv420p", interpolation=SCALER
        )
        self._container.mux(self._video.encode(scaled))
