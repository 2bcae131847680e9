"""RunPod's serverless API over httpx (not the runpod SDK: its pins conflict with aioboto3's).

https://docs.runpod.io/serverless/endpoints/operations: `POST /run {input, webhook, policy}`,
`GET /status/{id}`, `POST /cancel/{id}`, `GET /health`. RunPod rate-limits (429) and has bad
moments (5xx); both say when to come back with `Retry-After`, which callers honour.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import msgspec

__all__ = ["RunpodClient", "RunpodRejected", "RunpodUnavailable"]


class RunpodUnavailable(Exception):
    """Try again later: 429, 5xx or no answer. `retry_after_s` when RunPod said how long."""

    def __init__(self, message: str, *, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class RunpodRejected(Exception):
    """RunPod refused the request itself (400, 401, 403, ...): retrying the same request cannot help."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RunpodClient:
    """One endpoint's API. Bodies are small JSON; each call is one request (callers retry)."""

    def __init__(
        self,
        run_url: str,
        api_key: str | None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=run_url, headers=headers, timeout=timeout_s, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run(
        self, job_input: dict[str, Any], *, webhook: str, execution_timeout_ms: int, ttl_ms: int
    ) -> str:
        """Submit a job; its RunPod id."""
        body = {
            "input": job_input,
            "webhook": webhook,
            "policy": {"executionTimeout": execution_timeout_ms, "ttl": ttl_ms},
        }
        answer = await self._call("POST", "/run", json=body)
        job_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(job_id, str):
            raise RunpodUnavailable("/run answered without a job id")
        return job_id

    async def status(self, runpod_id: str) -> dict[str, Any] | None:
        """The job's status body; None when RunPod does not know it (ttl passed, results expired)."""
        answer = await self._call("GET", f"/status/{runpod_id}", missing_ok=True)
        return answer if isinstance(answer, dict) else None

    async def cancel(self, runpod_id: str) -> None:
        await self._call("POST", f"/cancel/{runpod_id}", missing_ok=True)

    async def health(self) -> dict[str, Any]:
        answer = await self._call("GET", "/health")
        return answer if isinstance(answer, dict) else {}

    async def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RunpodUnavailable(f"{method} {path.split('/')[1]}: {type(exc).__name__}") from None
        status = response.status_code
        operation = path.split("/")[1]
        if status == 404 and missing_ok:
            return None
        if status == 429 or status >= 500:
            raise RunpodUnavailable(
                f"{operation}: HTTP {status}",
                status=status,
                retry_after_s=retry_after_s(response.headers.get("retry-after")),
            )
        if status >= 400:
            raise RunpodRejected(f"{operation}: HTTP {status}: {response.text[:200]}", status=status)
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise RunpodUnavailable(f"{operation}: HTTP {status} with a body that is not JSON") from None
