"""Benchmark of the purchase service (`make bench`): figures measured in one run on this machine, not a test.

For each of 500 paid purchases, one signed `payment_intent.succeeded` webhook is POSTed to the service
(served by uvicorn in this process) and the clock runs until `purchase.completed.v1` for that purchase
is consumed from RabbitMQ: signature check, event stored, 2xx, the PaymentIntent re-read from the
Stripe stand-in through the SDK, the purchase and outbox row committed, the relay's publish with
confirms, and the broker's delivery. Printed: that latency's p50/p99 and the webhook answer's p50/p99.

Environment: AMQP_URL, DATABASE_URL (defaults: the local services).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from tempfile import mkdtemp

import asyncpg
import httpx
import stripe
from codex_stripe_local.app import create_app as create_stripe_local
from codex_stripe_local.settings import Settings as StripeLocalSettings
from codex_stripe_local.webhooks import sign

from codex_bus import Bus, ConsumerSettings, MessageBatch, OutboxRelay, Topology, subscribe
from codex_contracts.events import PurchaseCompletedV1
from codex_platform.db import migrate, quote_ident
from codex_platform.logging import configure_logging_from
from codex_platform.testing import serve
from codex_platform.testing.queues import delete_prefixed
from codex_purchase.app import create_app
from codex_purchase.cli import CLI
from codex_purchase.deps import Deps
from codex_purchase.purchasing import start_purchase
from codex_purchase.repository import Repository
from codex_purchase.settings import PurchaseSettings

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PURCHASES = 500


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def paid_events(
    deps: Deps, local: StripeLocalSettings, stripe_url: str, ledger: object
) -> list[dict[str, object]]:
    """PURCHASES purchases started and paid; their `payment_intent.succeeded` events (not yet sent)."""
    async with deps.pool.acquire() as conn:
        await Repository(conn).record_price(
            content_id="bench", creator_id="creator", title="Bench", price_cents=500, currency="usd",
            status="published", as_of=datetime.now(UTC),
        )  # fmt: skip
    http = stripe.HTTPXClient()
    client = stripe.StripeClient(local.secret_key, base_addresses={"api": stripe_url}, http_client=http)
    intents = []
    for _ in range(PURCHASES):
        row, _ = await start_purchase(deps, customer_id=str(uuid.uuid4()), content_id="bench")
        assert row.payment_intent_id is not None
        await client.v1.payment_intents.confirm_async(
            row.payment_intent_id, params={"payment_method": "pm_card_visa"}
        )
        intents.append(row.payment_intent_id)
    await http.close_async()  # type: ignore[no-untyped-call]
    events = getattr(ledger, "events")  # noqa: B009
    by_intent = {
        e["data"]["object"]["id"]: e for e in events.values() if e["type"] == "payment_intent.succeeded"
    }
    return [by_intent[i] for i in intents]


async def main() -> int:
    tag = uuid.uuid4().hex[:8]
    schema, prefix = f"bench_purchase_{tag}", f"bench-purchase-{tag}."
    await migrate(DATABASE_URL, schema=schema, sources=list(CLI.migrations))
    local = StripeLocalSettings(environment="test", webhook_url="")  # the bench sends the webhooks itself
    stripe_app = create_stripe_local(local)
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    async def completed(batch: MessageBatch[PurchaseCompletedV1]) -> None:
        for message in batch:
            arrived[message.body.payment_intent_id] = time.perf_counter()
            waiting.setdefault(message.body.payment_intent_id, asyncio.Event()).set()

    try:
        async with serve(stripe_app) as stripe_url:
            settings = PurchaseSettings(
                environment="test", database_url=DATABASE_URL, amqp_url=AMQP_URL, db_schema=schema,
                bus_prefix=prefix, stripe_api_base=stripe_url, stripe_secret_key=local.secret_key,
                stripe_webhook_secret=local.webhook_secret, log_level="ERROR",
                mail_folder=mkdtemp(prefix="codex-purchase-bench-"),
            )  # fmt: skip
            configure_logging_from(settings, "purchase")
            app = create_app(settings)
            async with (
                serve(app) as url,
                Bus(AMQP_URL, topology=Topology(prefix=prefix), name="bench") as bus,
            ):
                deps: Deps = app.state.deps
                sink = bus.consumer(
                    "bench-sink",
                    [subscribe(PurchaseCompletedV1, completed)],
                    ConsumerSettings(max_batch_size=1, max_batch_timeout=0.01),
                )
                relay = OutboxRelay(deps.pool, bus, poll_interval=0.5)
                async with sink:
                    await relay.start()
                    events = await paid_events(deps, local, stripe_url, stripe_app.state.ledger)
                    answers: list[float] = []
                    latencies: list[float] = []
                    async with httpx.AsyncClient(base_url=url) as client:
                        for event in events:
                            intent_id = str(event["data"]["object"]["id"])  # type: ignore[index]
                            body = json.dumps(event).encode()
                            headers = {"Stripe-Signature": sign(body, local.webhook_secret)}
                            done = waiting.setdefault(intent_id, asyncio.Event())
                            started = time.perf_counter()
                            response = await client.post("/webhooks/stripe", content=body, headers=headers)
                            answers.append((time.perf_counter() - started) * 1000)
                            assert response.status_code == 200, response.text
                            await asyncio.wait_for(done.wait(), timeout=30)
                            latencies.append((arrived[intent_id] - started) * 1000)
                    await relay.stop()
        print(
            f"purchase: signed webhook -> purchase.completed.v1 consumed from RabbitMQ ({len(latencies)}):"
            f" p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms;"
            f" webhook answered (2xx) p50 {percentile(answers, 50):.1f} ms,"
            f" p99 {percentile(answers, 99):.1f} ms"
        )
        return 0
    finally:
        delete_prefixed(AMQP_URL, prefix)
        conn = await asyncpg.connect(DATABASE_URL)
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
