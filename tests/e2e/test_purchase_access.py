"""Purchase and catalog together on a real broker: catalog's published price reaches purchase's
projection, a customer pays through the Stripe stand-in (signed webhooks), purchase.completed.v1 goes
from purchase's outbox through RabbitMQ to catalog, which grants access; a refund revokes it. Each
service runs its HTTP side and its worker (relay, consumer, reconciler) as in production, in process."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import stripe
from codex_stripe_local.app import create_app as create_stripe_local
from codex_stripe_local.settings import Settings as StripeLocalSettings

from codex_bus import Bus, ConsumerSettings, Topology, UnroutableMessage, service_worker
from codex_catalog import repository as catalog_repository
from codex_catalog.bootstrap import bootstrap as catalog_bootstrap
from codex_catalog.cli import CLI as CATALOG_CLI
from codex_catalog.handlers import SUBSCRIPTIONS as CATALOG_SUBSCRIPTIONS
from codex_catalog.settings import CatalogSettings
from codex_contracts.events import ContentPublishedV1
from codex_platform.db import connect, create_pool, migrate, quote_ident
from codex_platform.testing import S3Settings, TokenIssuer, bearer, serve
from codex_purchase.app import create_app
from codex_purchase.bootstrap import bootstrap as purchase_bootstrap
from codex_purchase.cli import CLI as PURCHASE_CLI
from codex_purchase.handlers import SUBSCRIPTIONS as PURCHASE_SUBSCRIPTIONS
from codex_purchase.reconciler import background_tasks
from codex_purchase.settings import PurchaseSettings


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s")
        await asyncio.sleep(0.1)
    return value


@contextlib.asynccontextmanager
async def running(work: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def schema_named(database_url: str, name: str) -> AsyncIterator[str]:
    try:
        yield name
    finally:
        conn = await connect(database_url)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
        await conn.close()


async def test_a_paid_purchase_grants_access_in_catalog_and_a_refund_revokes_it(
    database_url: str, amqp_url: str, pg_schema: str, queue_prefix: str, token_issuer: TokenIssuer,
    s3_settings: S3Settings, s3_bucket: str, tmp_path: Path,
) -> None:  # fmt: skip
    local = StripeLocalSettings(environment="test", webhook_url="")
    async with (
        schema_named(database_url, pg_schema + "_catalog") as catalog_schema,
        serve(create_stripe_local(local)) as stripe_url,
    ):
        await migrate(database_url, schema=pg_schema, sources=list(PURCHASE_CLI.migrations))
        await migrate(database_url, schema=catalog_schema, sources=list(CATALOG_CLI.migrations))
        purchase_settings = PurchaseSettings(
            environment="test", database_url=database_url, amqp_url=amqp_url, db_schema=pg_schema,
            bus_prefix=queue_prefix, jwks_url=token_issuer.jwks_url, stripe_api_base=stripe_url,
            stripe_secret_key=local.secret_key, stripe_webhook_secret=local.webhook_secret,
            mail_folder=str(tmp_path / "mail"),
        )  # fmt: skip
        catalog_settings = CatalogSettings(
            environment="test", database_url=database_url, amqp_url=amqp_url, db_schema=catalog_schema,
            bus_prefix=queue_prefix, jwks_url=token_issuer.jwks_url, s3_endpoint_url=s3_settings.endpoint_url,
            s3_access_key_id=s3_settings.access_key_id, s3_secret_access_key=s3_settings.secret_access_key,
            s3_region=s3_settings.region, s3_bucket=s3_bucket,
        )  # fmt: skip
        quick = ConsumerSettings(max_batch_timeout=0.2)  # one event at a time: no batch to wait for
        purchase_worker = service_worker(
            purchase_settings,
            purchase_bootstrap,
            subscriptions=PURCHASE_SUBSCRIPTIONS,
            tasks=background_tasks,
            consumer_settings=quick,
        )
        catalog_worker = service_worker(
            catalog_settings, catalog_bootstrap, subscriptions=CATALOG_SUBSCRIPTIONS, consumer_settings=quick
        )
        catalog_pool = await create_pool(database_url, schema=catalog_schema)
        async with (
            running(purchase_worker),
            running(catalog_worker),
            serve(create_app(purchase_settings)) as purchase_url,
            Bus(amqp_url, topology=Topology(prefix=queue_prefix), name="e2e-catalog-side") as bus,
            httpx.AsyncClient(base_url=purchase_url) as client,
        ):
            stripe_admin = httpx.AsyncClient(base_url=stripe_url, headers=bearer(local.secret_key))
            await stripe_admin.post(
                "/_admin/webhook-endpoint", json={"url": f"{purchase_url}/webhooks/stripe"}
            )
            content_id = str(uuid.uuid4())
            # what catalog announces when a creator publishes (its own publishing needs a transcoded asset)
            published = ContentPublishedV1(
                content_id=content_id, creator_id="creator-1", title="Night Train", price_cents=1200,
                currency="eur", asset_id=None, published_at=datetime.now(UTC),
            )  # fmt: skip
            await eventually(lambda: _queue_ready(bus, queue_prefix))
            # The queue can exist a moment before its bindings: until then the event is unroutable.
            for _ in range(100):
                try:
                    await bus.producer(source="catalog").send(published)
                    break
                except UnroutableMessage:
                    await asyncio.sleep(0.1)

            buyer_id = str(uuid.uuid4())
            buyer = bearer(token_issuer.token(user_id=buyer_id))

            async def started() -> httpx.Response | None:
                answer = await client.post("/purchases", json={"content_id": content_id}, headers=buyer)
                return answer if answer.status_code == 201 else None

            body = (await eventually(started)).json()  # once the price has reached the projection
            assert (body["amount"], body["currency"]) == (1200, "eur")

            async def access() -> bool:
                async with catalog_pool.acquire() as conn:
                    return await catalog_repository.has_access(conn, buyer_id, content_id)

            assert not await access()
            http = stripe.HTTPXClient()
            sdk = stripe.StripeClient(local.secret_key, base_addresses={"api": stripe_url}, http_client=http)
            params: Any = {"payment_method": "pm_card_visa"}
            await sdk.v1.payment_intents.confirm_async(body["payment_intent_id"], params=params)
            await eventually(access)

            await sdk.v1.refunds.create_async(params={"payment_intent": body["payment_intent_id"]})
            await eventually(lambda: _not(access))
            view = (await client.get(f"/purchases/{body['purchase_id']}", headers=buyer)).json()
            assert view["status"] == "refunded"
            await http.close_async()  # type: ignore[no-untyped-call]
            await stripe_admin.aclose()
        await catalog_pool.close()


async def _not(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


async def _queue_ready(bus: Bus, prefix: str) -> bool:
    """Purchase's queue exists (its worker bound it), so an event sent now reaches it."""
    channel = await bus.connection.channel()
    try:
        await channel.declare_queue(f"{prefix}purchase", passive=True)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
