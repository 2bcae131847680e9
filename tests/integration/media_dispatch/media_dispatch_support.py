"""Helpers shared by media-dispatch's integration tests (and its e2e tests): deliver an upload,
read the outbox, store what a worker would have written; and RunPod faked as its docs describe it.

`FakeRunpod` answers `/run` with `{"id", "status": "IN_QUEUE"}`, `/status/{id}` with the body the test
sets (404 for a job it does not know, as the cloud does once ttl or retention passed), `/cancel` and
`/health`; `refuse_runs` scripts 429/5xx answers with `Retry-After`.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec

from codex_bus import Message
from codex_bus.handling import handle_message
from codex_contracts import new_envelope
from codex_contracts.events import UploadCompletedV1
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.domain import rendition_key, thumbnail_key
from codex_media_dispatch.handlers import SUBSCRIPTIONS
from codex_platform.storage import Storage


def upload_completed(
    bucket: str, *, owner_id: str | None = None, key: str | None = None
) -> UploadCompletedV1:
    upload_id = str(uuid.uuid4())
    return UploadCompletedV1(
        upload_id=upload_id, owner_id=owner_id or str(uuid.uuid4()), bucket=bucket,
        key=key or f"videos/original/{upload_id}.mp4", filename="clip.mp4", content_type="video/mp4",
        size_bytes=1234, etag='"e"', completed_at=datetime.now(UTC),
    )  # fmt: skip


async def deliver(deps: Deps, event: UploadCompletedV1) -> None:
    """As the bus would: a fresh message id, the handler in its inbox transaction."""
    await handle_message(SUBSCRIPTIONS[0], Message(new_envelope(event, source="upload"), event), deps)


async def events(pool: asyncpg.Pool[Any], event_type: str | None = None) -> list[dict[str, Any]]:
    """The event payloads in the outbox, oldest first."""
    rows = await pool.fetch("SELECT event_type, body FROM outbox ORDER BY seq")
    found = [msgspec.json.decode(row["body"]) for row in rows if event_type in (None, row["event_type"])]
    return [dict(envelope["data"]) for envelope in found]


async def asset_of(pool: asyncpg.Pool[Any], upload_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM assets WHERE upload_id = $1", upload_id)
    assert row is not None
    return row


RENDITION = {
    "name": "720p", "width": 320, "height": 180, "codec": "h264", "profile": "High", "pix_fmt": "yuv420p",
    "fps": 15.0, "bitrate": 200_000, "size_bytes": 64, "duration_s": 1.5, "has_audio": True,
}  # fmt: skip


async def worker_output(storage: Storage, asset_id: str, job_id: str) -> dict[str, Any]:
    """Store what the transcode worker writes and return its result (`output` of the status body)."""
    await storage.put_bytes(rendition_key("720p", asset_id), b"\0" * 64, content_type="video/mp4")
    await storage.put_bytes(thumbnail_key(asset_id), b"\xff\xd8thumb", content_type="image/jpeg")
    return {
        "job_id": job_id, "status": "succeeded", "renditions": [RENDITION],
        "thumbnail": {"width": 320, "height": 180, "size_bytes": 7, "at_s": 0.75},
        "encoder": "libx264", "decoder": "h264",
    }  # fmt: skip


@dataclass
class FakeRunpod:
    runs: list[dict[str, Any]] = field(default_factory=list)  # accepted /run bodies, with "id"
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    health_reads: int = 0
    refusals: list[tuple[int, str | None]] = field(default_factory=list)  # next /run answers
    status_refusals: list[tuple[int, str | None]] = field(default_factory=list)  # next /status answers
    refused: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def refuse_runs(self, *answers: tuple[int, str | None]) -> None:
        self.refusals.extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != "Bearer test-key":
            return httpx.Response(401, json={"error": "unauthorized"})
        parts = request.url.path.split("/")  # /v2/{endpoint}/{operation}[/{id}]
        operation = parts[3]
        if operation == "run":
            if self.refusals:
                code, retry_after = self.refusals.pop(0)
                self.refused += 1
                headers = {"Retry-After": retry_after} if retry_after else {}
                return httpx.Response(code, headers=headers, json={"error": "try later"})
            job_id = f"rp-{next(self._ids)}"
            body = msgspec.json.decode(request.content)
            self.runs.append({**body, "id": job_id})
            self.statuses[job_id] = {"id": job_id, "status": "IN_QUEUE"}
            return httpx.Response(200, json={"id": job_id, "status": "IN_QUEUE"})
        if operation == "status" and self.status_refusals:
            code, retry_after = self.status_refusals.pop(0)
            return httpx.Response(code, headers={"Retry-After": retry_after} if retry_after else {})
        if operation == "status":
            status = self.statuses.get(parts[4])
            return (
                httpx.Response(200, json=status)
                if status
                else httpx.Response(404, json={"error": "not found"})
            )
        if operation == "cancel":
            self.cancelled.append(parts[4])
            if parts[4] in self.statuses:
                self.statuses[parts[4]] = {"id": parts[4], "status": "CANCELLED"}
            return httpx.Response(200, json={"id": parts[4], "status": "CANCELLED"})
        if operation == "health":
            self.health_reads += 1
            return httpx.Response(200, json={"jobs": {"inQueue": len(self.runs)}, "workers": {"idle": 0}})
        return httpx.Response(404)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)
