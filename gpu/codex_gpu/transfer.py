"""Streamed transfers to and from presigned URLs, with a size cap on the way in.

Presigned URLs carry their credentials in the query string, so only ``redact(url)`` (scheme, host and
path) ever reaches a log line or an error message. Network failures and 5xx/429 answers are retried
here a few times, then reported as retryable; media-dispatch retries the job with fresh URLs. Where a
URL may lead is urls.py's: a refused URL, address or redirect fails the job as INVALID_JOB (permanent).
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
from codex_gpu.urls import GuardedBackend, UrlPolicy, UrlRefused

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
    def __init__(self, settings: Settings, *, deadline: float | None = None) -> None:
        self._settings = settings
        self._deadline = deadline  # time.monotonic() past which the job is over (wall-clock limit)
        self._policy = UrlPolicy(settings.url_allow)
        transport = httpx.HTTPTransport()
        # httpx builds its connection pool with httpcore's plain socket backend; ours checks the address
        # it connects to. (httpx has no public hook for this; test_transfers proves it is in place.)
        transport._pool._network_backend = GuardedBackend(self._policy)
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
            transport=transport,
            # A presigned URL never redirects; a redirect could lead anywhere (127.0.0.1 included).
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: it would connect on our behalf, unchecked
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
                        self._check_deadline()
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

    def _check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise job_timed_out(self._settings)

    def _check(self, response: httpx.Response, code: str, method: str, url: str) -> None:
        if response.is_success:
            return
        message = f"{method} {redact(url)} answered HTTP {response.status_code}"
        if response.is_redirect:
            raise UrlRefused(f"{message}, a redirect: refused")
        if response.status_code in _RETRY_STATUSES:
            raise _Retry(message)
        # 403 (expired or wrong signature) or 404: the same URL will answer the same; a new job may not.
        raise TranscodeFailed(code, message, retryable=True)  # type: ignore[arg-type]

    def _with_retries(self, attempt: Callable[[], T], code: str, method: str, url: str) -> T:
        attempts = max(1, self._settings.transfer_attempts)
        try:
            self._policy.check_url(url)
        except UrlRefused as exc:
            raise _refused(method, url, exc) from None
        for number in range(1, attempts + 1):
            self._check_deadline()
            try:
                return attempt()
            except UrlRefused as exc:
                raise _refused(method, url, exc) from None
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


def _refused(method: str, url: str, exc: UrlRefused) -> TranscodeFailed:
    return TranscodeFailed("INVALID_JOB", f"{method} {redact(url)} refused: {exc}")


def job_timed_out(settings: Settings) -> TranscodeFailed:
    # Permanent: the same source on the same kind of worker would run past the limit again.
    return TranscodeFailed(
        "TOO_LONG", f"the job ran past the worker's {settings.job_timeout_s:.0f} s wall-clock limit"
    )


def _too_large(size: int, limit: int, *, at_least: bool = False) -> TranscodeFailed:
    more = "more than " if at_least else ""
    return TranscodeFailed("TOO_LARGE", f"the source is {more}{size} bytes, over the {limit} limit")
