"""Drive a running upload service as creators and their browsers or scripts would: over HTTP, with the
bytes PUT straight to the S3 server (moto) through the presigned URLs the service hands out."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
from litestar import Litestar

from codex_platform.storage import Storage
from codex_platform.testing import TokenIssuer, bearer
from codex_upload.bootstrap import Deps
from codex_upload.settings import MIB, UploadSettings

# Small enough that a 3-part upload stays quick, as large as S3 allows for a part that is not the last.
PART = 5 * MIB


class UploadHarness:
    """One running upload service and what a test needs to drive it."""

    def __init__(self, app: Litestar, url: str, settings: UploadSettings, tokens: TokenIssuer) -> None:
        self.app = app
        self.url = url
        self.settings = settings
        self.tokens = tokens
        self.http = httpx.AsyncClient(timeout=60)  # to the object store, through presigned URLs
        self._clients: list[httpx.AsyncClient] = [self.http]

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps

    @property
    def storage(self) -> Storage:
        return self.deps.storage

    def client(self, role: str = "creator", user_id: str | None = None) -> httpx.AsyncClient:
        """An HTTP client of the service signed in as a fresh user (or `user_id`) with `role`."""
        token = self.tokens.token(role=role, user_id=user_id)
        client = httpx.AsyncClient(base_url=self.url, timeout=60, headers=bearer(token))
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def start(
        self,
        client: httpx.AsyncClient,
        size: int,
        *,
        filename: str = "clip.mp4",
        content_type: str = "video/mp4",
    ) -> dict[str, Any]:
        body = {"filename": filename, "content_type": content_type, "size_bytes": size}
        response = await client.post("/uploads", json=body)
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    async def put(self, ticket: dict[str, Any], data: bytes, **header_overrides: str) -> httpx.Response:
        """PUT `data` to the ticket's URL with the headers it names (as a script would)."""
        headers = {**ticket["headers"], **header_overrides}
        headers.pop("Content-Length", None)  # httpx sets the body's own length
        return await self.http.put(ticket["url"], content=data, headers=headers)

    async def part_urls(
        self, client: httpx.AsyncClient, upload_id: str, numbers: list[int]
    ) -> dict[int, str]:
        response = await client.post(f"/uploads/{upload_id}/parts", json={"part_numbers": numbers})
        assert response.status_code == 200, response.text
        return {part["number"]: part["url"] for part in response.json()["parts"]}

    async def put_part(self, url: str, data: bytes) -> str:
        response = await self.http.put(url, content=data)
        assert response.status_code == 200, response.text
        return response.headers["ETag"]

    async def sql(self, query: str, *args: Any) -> list[Any]:
        async with self.deps.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def events(self) -> list[dict[str, Any]]:
        """The data of the upload.completed.v1 events in the outbox, oldest first."""
        rows = await self.sql("SELECT body FROM outbox WHERE event_type = 'upload.completed.v1' ORDER BY seq")
        return [msgspec.json.decode(bytes(row["body"]))["data"] for row in rows]

    async def state(self, upload_id: str) -> str:
        rows = await self.sql("SELECT state FROM uploads WHERE id = $1::uuid", upload_id)
        return str(rows[0]["state"])
