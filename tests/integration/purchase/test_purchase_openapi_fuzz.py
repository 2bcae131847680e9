"""schemathesis against purchase's own OpenAPI document: every check, every phase (examples, coverage,
fuzzing, stateful), signed in as a customer, a creator and an admin, with the Stripe stand-in behind
it. The webhook route is included: unsigned generated bodies get its documented 400. No failure is
allowed but the refusals listed below, each of which needs state the generator cannot know."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from codex_stripe_local.app import create_app as create_stripe_local
from codex_stripe_local.settings import Settings as StripeLocalSettings

from codex_platform.testing import TokenIssuer
from codex_platform.testing.schemathesis_run import FuzzReport, Refusal, run_schemathesis, serve_in_thread
from codex_purchase.app import create_app
from codex_purchase.settings import PurchaseSettings

# Per operation and phase; PURCHASE_FUZZ_EXAMPLES=200 for a longer hunt.
EXAMPLES = int(os.environ.get("PURCHASE_FUZZ_EXAMPLES", "20"))

REFUSALS = [
    Refusal(
        "GET /purchases",
        "positive_data_acceptance",
        "a cursor the server did not issue is refused (400); only a page holds one",
        status=400,
        sent="cursor=",
    ),
    Refusal(
        "POST /webhooks/stripe",
        "positive_data_acceptance",
        "a Stripe-Signature verifies only when made with the endpoint's signing secret, which Stripe "
        "alone holds: a generated one is refused (400)",
        status=400,
    ),
]


@pytest.fixture
async def priced(database_url: str, migrated: str) -> str:
    """One content for sale, so that valid purchases reach Stripe."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": migrated})
    try:
        await conn.execute(
            "INSERT INTO content_prices VALUES"
            " ('fuzz-content', 'someone', 'Fuzz', 500, 'usd', 'published', $1)",
            datetime.now(UTC),
        )
    finally:
        await conn.close()
    return "fuzz-content"


async def test_purchase_passes_schemathesis(
    purchase_settings_factory: Callable[..., PurchaseSettings], token_issuer: TokenIssuer, priced: str
) -> None:
    tokens = {role: token_issuer.token(role=role) for role in ("customer", "creator", "admin")}
    # schemathesis is synchronous: the services run in threads of their own while it calls.
    report = await asyncio.to_thread(_fuzz, purchase_settings_factory, tokens)
    print(f"purchase: {report.summary()}", *report.allowed_lines(), sep="\n  ")
    # The tokens opened what needs one: every identity lists its own purchases.
    for identity in tokens:
        assert "GET /purchases" in report.succeeded[identity], identity


def _fuzz(settings: Callable[..., PurchaseSettings], tokens: dict[str, str]) -> FuzzReport:
    stripe_local = create_stripe_local(StripeLocalSettings(environment="test", webhook_url=""))
    with serve_in_thread(stripe_local, name="stripe-local") as stripe_url:
        app = create_app(settings(stripe_api_base=stripe_url))
        with serve_in_thread(app, name="purchase-under-test") as url:
            return run_schemathesis(url, tokens=tokens, allowed=REFUSALS, max_examples=EXAMPLES)
