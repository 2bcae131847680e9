"""The catalog under test and what tests drive it with: events as the other services send them,
fed through the service's own subscription table (MemoryBus) into its real Postgres schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from litestar import Litestar

from codex_bus import MemoryBus
from codex_catalog.bootstrap import Deps
from codex_catalog.handlers import SUBSCRIPTIONS
from codex_contracts import Envelope, Event
from codex_contracts.envelope import decode_envelope
from codex_contracts.events import (
    AssetFailedV1,
    AssetReadyV1,
    AssetRendition,
    PurchaseCompletedV1,
    PurchaseRefundedV1,
    UserRegisteredV1,
)
from codex_platform.testing import TokenIssuer, bearer

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def asset_ready(
    upload_id: str, owner_id: str, *, when: datetime = T0, asset_id: str | None = None
) -> AssetReadyV1:
    asset_id = asset_id or f"asset-{upload_id}"
    return AssetReadyV1(
        asset_id=asset_id,
        upload_id=upload_id,
        owner_id=owner_id,
        renditions=[
            AssetRendition(
                name="720p",
                key=f"videos/720p/{asset_id}.mp4",
                width=1280,
                height=720,
                codec="h264",
                bitrate=2_500_000,
                size_bytes=1000,
                duration_s=4.0,
            ),
            AssetRendition(
                name="1080p",
                key=f"videos/1080p/{asset_id}.mp4",
                width=1920,
                height=1080,
                codec="h264",
                bitrate=5_000_000,
                size_bytes=2000,
                duration_s=4.0,
            ),
        ],
        thumbnail_key=f"thumbnails/{asset_id}.jpg",
        duration_s=4.0,
        ready_at=when,
    )


def asset_failed(upload_id: str, owner_id: str, *, when: datetime = T0) -> AssetFailedV1:
    return AssetFailedV1(
        asset_id=f"asset-{upload_id}",
        upload_id=upload_id,
        owner_id=owner_id,
        error_code="NOT_A_VIDEO",
        error_message="the file is not a video",
        retryable=False,
        failed_at=when,
    )


def purchased(
    customer_id: str, content_id: str, *, when: datetime = T0, purchase_id: str = "p1"
) -> PurchaseCompletedV1:
    return PurchaseCompletedV1(
        purchase_id=purchase_id,
        customer_id=customer_id,
        content_id=content_id,
        amount_cents=500,
        currency="USD",
        payment_intent_id="pi_1",
        completed_at=when,
    )


def refunded(
    customer_id: str, content_id: str, *, when: datetime = T0, fully: bool = True, purchase_id: str = "p1"
) -> PurchaseRefundedV1:
    return PurchaseRefundedV1(
        purchase_id=purchase_id,
        customer_id=customer_id,
        content_id=content_id,
        amount_refunded_cents=500 if fully else 100,
        currency="USD",
        fully_refunded=fully,
        refunded_at=when,
    )


def registered(user_id: str, name: str, role: str = "creator", *, when: datetime = T0) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=user_id, email=f"{user_id}@example.com", display_name=name, role=role, registered_at=when
    )  # type: ignore[arg-type]


class Person:
    """A user with a token: `headers` to call as them."""

    def __init__(self, issuer: TokenIssuer, role: str, user_id: str | None = None) -> None:
        self.id = user_id or str(uuid.uuid4())
        self.role = role
        self.headers = bearer(issuer.token(user_id=self.id, role=role))


class Catalog:
    """One running catalog: its URL, an HTTP client, its deps, and a bus that delivers to its handlers."""

    def __init__(self, app: Litestar, client: httpx.AsyncClient, issuer: TokenIssuer) -> None:
        self.app = app
        self.http = client
        self.issuer = issuer
        self.bus = MemoryBus(SUBSCRIPTIONS)
        self.bus.start(self.deps)

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps

    def person(self, role: str = "customer", user_id: str | None = None) -> Person:
        return Person(self.issuer, role, user_id)

    async def deliver(self, *events: Event) -> None:
        """Send `events` as their producers would and let the handlers take them (in this order)."""
        for event in events:
            await self.bus.send(event)
        await self.bus.drain()
        failed = [o for o in self.bus.outcomes if o.outcome != "acked"]
        assert not failed, failed

    async def create(self, creator: Person, **body: Any) -> dict[str, Any]:
        payload = {"title": "A film", "price_cents": 500, "currency": "USD", **body}
        response = await self.http.post("/content", json=payload, headers=creator.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def get(self, content_id: str, who: Person | None = None) -> httpx.Response:
        return await self.http.get(f"/content/{content_id}", headers=who.headers if who else None)

    async def status(self, content_id: str, owner: Person) -> str:
        response = await self.get(content_id, owner)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    async def publish(self, content_id: str, who: Person) -> httpx.Response:
        return await self.http.post(f"/content/{content_id}/publish", headers=who.headers)

    async def published_content(self, creator: Person, **body: Any) -> dict[str, Any]:
        """Content whose video is ready and which is published."""
        upload_id = f"up-{uuid.uuid4().hex[:8]}"
        await self.deliver(asset_ready(upload_id, creator.id))
        content = await self.create(creator, upload_id=upload_id, **body)
        response = await self.publish(content["id"], creator)
        assert response.json()["status"] == "published", response.text
        return dict(response.json())

    async def outbox(self) -> list[Envelope]:
        """Every event the catalog has written to its outbox, in order."""
        rows = await self.deps.pool.fetch("SELECT body FROM outbox ORDER BY seq")
        return [decode_envelope(bytes(row["body"])) for row in rows]

    async def announced(self, content_id: str) -> list[str]:
        """The types of the events the catalog has announced about one content, in order."""
        return [e.type for e in await self.outbox() if e.subject == content_id]
