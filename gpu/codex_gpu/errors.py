"""Classified failures of a transcode job: a code media-dispatch can act on, and whether to retry."""

from __future__ import annotations

import errno

import av.error

from codex_contracts.transcode import PERMANENT_CODES, ErrorCode
from codex_contracts.transcode import TranscodeError as ErrorBody

# Failures of the machine, not of the video: out of memory, an I/O error on the work disk, a full
# disk, a GPU (CUDA) fault surfacing as EIO/EFAULT, an interrupted call. Another try may well succeed.
_MACHINE_ERRNOS = {
    errno.ENOMEM,
    errno.EIO,
    errno.ENOSPC,
    errno.EFAULT,
    errno.EAGAIN,
    errno.EINTR,
    errno.EBUSY,
}


class TranscodeFailed(Exception):
    """A job failure with its contract code. Permanent codes are never retried; network ones are."""

    def __init__(self, code: ErrorCode, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message
        self.retryable = code not in PERMANENT_CODES if retryable is None else retryable

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, retryable=self.retryable)


def is_machine_fault(exc: BaseException) -> bool:
    """True when ``exc`` says the machine failed (memory, disk, GPU), not the input."""
    if isinstance(exc, (MemoryError, av.error.MemoryError)):
        return True
    number = getattr(exc, "errno", None)
    return isinstance(number, int) and number in _MACHINE_ERRNOS


def decode_failure(exc: av.error.FFmpegError, *, where: str, hwaccel: bool) -> TranscodeFailed:
    """What an FFmpeg error while demuxing or decoding the source means.

    Corrupt or cut-short data (AVERROR_INVALIDDATA, an unexpected end of file) is the source's fault:
    permanent. Missing decoders or unimplemented features: UNSUPPORTED_CODEC. Anything the machine
    caused (ENOMEM, EIO, a CUDA fault while NVDEC decodes) is retryable: a good video must never be
    failed for good by a transient fault.
    """
    if isinstance(exc, av.error.DecoderNotFoundError):
        return TranscodeFailed("UNSUPPORTED_CODEC", f"cannot decode the source: {exc.strerror}")
    if isinstance(exc, (av.error.PatchWelcomeError, av.error.NotImplementedError)):
        return TranscodeFailed(
            "UNSUPPORTED_CODEC", f"the source uses features FFmpeg cannot decode: {exc.strerror}"
        )
    if isinstance(exc, (av.error.InvalidDataError, av.error.EOFError)):
        return TranscodeFailed("TRUNCATED", f"the source is corrupt or cut short{where}: {exc.strerror}")
    cause = "the GPU decoder (NVDEC) failed" if hwaccel else "decoding failed on this machine"
    return TranscodeFailed("INTERNAL", f"{cause}{where}: {exc.strerror} (errno {exc.errno})", retryable=True)


def encode_failure(name: str, exc: BaseException) -> TranscodeFailed:
    """What a rendition encoder's failure means: the machine's fault (retry) or the input's.

    The encoders only ever see frames the decoder produced and the scaler resized to sizes the ladder
    chose, so an encoder that refuses its input (EINVAL, AVERROR_INVALIDDATA, ERANGE) is refusing what
    the source carried (a pixel format or sample layout it cannot take): permanent. Memory, disk and
    GPU faults are retryable, and so is anything unrecognised (bounded by media-dispatch's retries).
    """
    if is_machine_fault(exc):
        return TranscodeFailed("INTERNAL", f"encoding {name} failed on this machine: {exc}", retryable=True)
    if isinstance(exc, (av.error.InvalidDataError, av.error.ArgumentError)) or (
        isinstance(exc, av.error.FFmpegError) and exc.errno in (errno.EINVAL, errno.ERANGE)
    ):
        return TranscodeFailed(
            "UNSUPPORTED_CODEC", f"the encoder of {name} refused the source's frames: {exc}"
        )
    return TranscodeFailed("INTERNAL", f"encoding {name} failed: {type(exc).__name__}: {exc}", retryable=True)
