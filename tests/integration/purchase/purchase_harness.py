"""The purchase service under test against the Stripe stand-in, both served by real uvicorn servers:
the service reaches the stand-in through STRIPE_API_BASE alone, and the stand-in posts its signed
webhooks to the service. Customers pay through the official SDK, as Stripe.js would confirm."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import stripe
from codex_stripe_local.settings import Settings as StripeLocalSettings
from codex_stripe_local.webhooks import sign
from litestar import Litestar

from codex_platform.testing import TokenIssuer, bearer
from codex_purchase.deps import Deps
from codex_purchase.repository import Repository

__all__ = ["PurchaseHarness", "StripeLocal", "eventually"]


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout_s: float = 10.0) -> Any:
    """`check()`'s first truthy answer, polled until `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s (last answer: {value!r})")
        await asyncio.sleep(0.05)


class StripeLocal:
    """The running stand-in: its SDK client and its admin routes."""

    def __init__(self, url: str, app: Litestar, settings: StripeLocalSettings) -> None:
        self.url = url
        self.app = app
        self.settings = settings
        self.http = httpx.AsyncClient(base_url=url, headers=bearer(settings.secret_key))
        self._stripe_http = stripe.HTTPXClient()
        self.sdk = stripe.StripeClient(
            settings.secret_key, base_addresses={"api": url}, http_client=self._stripe_http
        )

    async def aclose(self) -> None:
        await self.http.aclose()
        await self._stripe_http.close_async()  # type: ignore[no-untyped-call]

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_admin{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def fault(self, fault: str, *types: str, times: int | None = None, delay_s: float = 1.0) -> None:
        await self.admin(
            "POST", "/faults", {"fault": fault, "types": list(types), "times": times, "delay_s": delay_s}
        )

    async def events(
        self, type: str | None = None, payment_intent: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"type": type, "payment_intent": payment_intent}.items() if v}
        return list(await self.admin("GET", "/events?" + "&".join(f"{k}={v}" for k, v in params.items())))

    async def pay(self, intent_id: str, payment_method: str = "pm_card_visa") -> Any:
        return await self.sdk.v1.payment_intents.confirm_async(
            intent_id, params={"payment_method": payment_method}
        )

    async def delivered(self, event_id: str) -> bool:
        log = await self.admin("GET", f"/webhooks?event_id={event_id}")
        return any(a["outcome"] == "delivered" for a in log["attempts"])

    def signed(self, event: dict[str, Any], *, at: int | None = None) -> tuple[bytes, str]:
        body = json.dumps(event).encode()
        return body, sign(body, self.settings.webhook_secret, at if at is not None else int(time.time()))


class PurchaseHarness:
    def __init__(
        self, url: str, app: Litestar, stripe_local: StripeLocal, tokens: TokenIssuer, mail: Path
    ) -> None:
        self.url = url
        self.app = app
        self.stripe = stripe_local
        self.tokens = tokens
        self.mail_folder = mail
        self.http = httpx.AsyncClient(base_url=url)

    @property
    def deps(self) -> Deps:
        deps: Deps = self.app.state.deps
        return deps

    async def aclose(self) -> None:
        await self.http.aclose()

    def customer(self, user_id: str | None = None, role: str = "customer") -> dict[str, str]:
        return bearer(self.tokens.token(user_id=user_id or str(uuid.uuid4()), role=role))

    async def publish(
        self,
        *,
        price_cents: int = 500,
        status: str = "published",
        creator_id: str = "creator-1",
        title: str = "Film",
    ) -> str:
        """A content in the price projection, as catalog's events would leave it."""
        content_id = f"content-{uuid.uuid4().hex[:8]}"
        async with self.deps.pool.acquire() as conn:
            await Repository(conn).record_price(
                content_id=content_id, creator_id=creator_id, title=title, price_cents=price_cents,
                currency="usd", status=status, as_of=datetime.now(UTC),
            )  # fmt: skip
        return content_id

    async def register(self, headers: dict[str, str], email: str = "ada@example.com") -> None:
        user_id = self.tokens.user_of(headers["Authorization"].removeprefix("Bearer "))
        async with self.deps.pool.acquire() as conn:
            await Repository(conn).record_customer(user_id, email, "Ada")

    async def start(self, content_id: str, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post("/purchases", json={"content_id": content_id}, headers=headers)

    async def status(self, purchase_id: str, headers: dict[str, str]) -> str:
        response = await self.http.get(f"/purchases/{purchase_id}", headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    async def reaches(self, purchase_id: str, headers: dict[str, str], status: str) -> None:
        async def check() -> bool:
            return await self.status(purchase_id, headers) == status

        await eventually(check)

    async def published_events(self, type: str | None = None) -> list[dict[str, Any]]:
        """What the service put in its outbox (the relay publishes exactly that), oldest first."""
        async with self.deps.pool.acquire() as conn:
            rows = await conn.fetch("SELECT event_type, body FROM outbox ORDER BY seq")
        events = [{"type": r["event_type"], **json.loads(bytes(r["body"]))} for r in rows]
        return [e for e in events if type in (None, e["type"])]

    async def stored_events(self) -> int:
        async with self.deps.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM stripe_events"))

    async def webhooks_settled(self) -> None:
        """Every event the stand-in sent has been delivered and applied here."""

        async def check() -> bool:
            log = await self.stripe.admin("GET", "/webhooks")
            async with self.deps.pool.acquire() as conn:
                open_ = await conn.fetchval("SELECT count(*) FROM stripe_events WHERE processed_at IS NULL")
            return bool(log["idle"]) and open_ == 0

        await eventually(check)
