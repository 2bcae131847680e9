"""schemathesis against purchase's own OpenAPI document: generated requests (valid and invalid) to every
route, signed in, with the Stripe stand-in behind it, must never get a 5xx nor an answer its documented
schema does not describe. The webhook route is included: unsigned generated bodies must get its
documented 400, never a 5xx."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import schemathesis
from codex_stripe_local.app import create_app as create_stripe_local
from codex_stripe_local.settings import Settings as StripeLocalSettings
from hypothesis import HealthCheck, given, settings
from purchase_harness import serve_in_thread
from schemathesis import GenerationMode, checks

from codex_platform.testing import TokenIssuer, bearer
from codex_purchase.app import create_app
from codex_purchase.settings import PurchaseSettings

EXAMPLES = int(os.environ.get("PURCHASE_FUZZ_EXAMPLES", "40"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
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


@pytest.fixture
def running_purchase(
    purchase_settings_factory: Callable[..., PurchaseSettings], token_issuer: TokenIssuer, priced: str
) -> Iterator[tuple[str, str]]:
    """The stand-in and the service, each in a thread of its own (schemathesis calls synchronously)."""
    with serve_in_thread(
        create_stripe_local(StripeLocalSettings(environment="test", webhook_url=""))
    ) as stripe_url:
        app = create_app(purchase_settings_factory(stripe_api_base=stripe_url))
        with serve_in_thread(app) as url:
            yield url, token_issuer.token(role="customer")


def operation_ids() -> list[str]:
    document = create_app(PurchaseSettings()).openapi_schema.to_schema()
    return sorted(op["operationId"] for path in document["paths"].values() for op in path.values())


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_server_errors_and_answers_match_the_schema(
    operation_id: str, running_purchase: tuple[str, str]
) -> None:
    url, token = running_purchase
    operation = schemathesis.openapi.from_url(f"{url}/docs/openapi.json").find_operation_by_id(operation_id)
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=url, headers=bearer(token), checks=CHECKS)

    fuzz()
