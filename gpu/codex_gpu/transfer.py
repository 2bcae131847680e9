"""Streamed transfers to and from presigned URLs, with a size cap on the way in.

Presigned URLs carry their credentials in the query string, so only ``redact(url)`` (scheme, host and
path) ever reaches a log line or an error message. Network failures and 5xx/429 answers are retried
here a few times, then reported as retryable; media-dispatch retries the job with fresh URLs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import urlsplit

import httpx

from codex_gpu.errors import TranscodeFailed
from codex_gpu.settings import Settings

log = logging.getLogger(__name__)
# httpx logs every request with its full URL at INFO: that would put presigned signatures in the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

T = TypeVar("T")
CHUNK = 1024 * 1024
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


def redact(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


class _Retry(Exception):
    """One attempt failed in a way another attempt may fix."""


class Transfers:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            follow_redirects=True,
        )

    def __enter__(self) -> Transfers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._client.close()

    def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream ``url`` to ``dest``; more than ``max_bytes`` fails with TOO_LARGE before it is all read."""

        def attempt() -> int:
            with self._client.stream("GET", url) as response:
                self._check(response, "DOWNLOAD_FAILED", "GET", url)
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(int(declared), max_bytes)
                written = 0
                with dest.open("wb") as file:
                    for chunk in response.iter_bytes(CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise _too_large(written, max_bytes, at_least=True)
                        file.write(chunk)
                return written

        return self._with_retries(attempt, "DOWNLOAD_FAILED", "GET", url)

    def upload(self, path: Path, url: str, content_type: str) -> None:
        """PUT ``path`` to ``url``, streamed, with its Content-Length (S3 refuses chunked PUTs)."""
        size = path.stat().st_size

        def attempt() -> None:
            with path.open("rb") as file:
                response = self._client.put(
                    url,
                    content=_chunks(file),
                    headers={"Content-Length": str(size), "Content-Type": content_type},
                )
            self._check(response, "UPLOAD_FAILED", "PUT", url)

        self._with_retries(attempt, "UPLOAD_FAILED", "PUT", url)

    def _check(self, response: httpx.Response, code: str, method: str, url: str) -> None:
        if response.is_success:
            return
        message = f"{method} {redact(url)} answered HTTP {response.status_code}"
        if response.status_code in _RETRY_STATUSES:
            raise _Retry(message)
        # 403 (expired or wrong signature) or 404: the same URL will answer the same; a new job may not.
        raise TranscodeFailed(code, message, retryable=True)  # type: ignore[arg-type]

    def _with_retries(self, attempt: Callable[[], T], code: str, method: str, url: str) -> T:
        attempts = max(1, self._settings.transfer_attempts)
        for number in range(1, attempts + 1):
            try:
                return attempt()
            except (_Retry, httpx.TransportError) as exc:
                reason = (
                    str(exc) if isinstance(exc, _Retry) else f"{method} {redact(url)}: {type(exc).__name__}"
                )
                log.warning("transfer attempt %d/%d failed: %s", number, attempts, reason)
                if number == attempts:
                    raise TranscodeFailed(code, reason, retryable=True) from exc  # type: ignore[arg-type]
                time.sleep(self._settings.transfer_backoff_s * 2 ** (number - 1))
        raise AssertionError("unreachable")


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(CHUNK):
        yield chunk


def _too_large(size: int, limit: int, *, at_least: bool = False) -> TranscodeFailed:
    more = "more than " if at_least else ""
    return TranscodeFailed("TOO_LARGE", f"the source is {more}{size} bytes, over the {limit} limit")
