"""Classified failures of a transcode job: a code media-dispatch can act on, and whether to retry."""

from __future__ import annotations

from codex_contracts.transcode import PERMANENT_CODES, ErrorCode
from codex_contracts.transcode import TranscodeError as ErrorBody


class TranscodeFailed(Exception):
    """A job failure with its contract code. Permanent codes are never retried; network ones are."""

    def __init__(self, code: ErrorCode, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message
        self.retryable = code not in PERMANENT_CODES if retryable is None else retryable

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, retryable=self.retryable)
