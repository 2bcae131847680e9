"""schemathesis against the catalog's own OpenAPI document: generated requests (valid and invalid) to
every route, signed in as a creator, must never get a 5xx nor an answer its documented schema does
not describe."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from catalog_harness import serve_in_thread
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from codex_catalog.app import create_app
from codex_catalog.settings import CatalogSettings
from codex_platform.testing import TokenIssuer, bearer

# Per operation; CATALOG_FUZZ_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("CATALOG_FUZZ_EXAMPLES", "40"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def running_catalog(
    catalog_settings: Callable[..., CatalogSettings], migrated: str, token_issuer: TokenIssuer
) -> Iterator[tuple[str, str]]:
    """The service in a thread of its own (schemathesis calls it synchronously), a creator's token,
    and one content of its own."""
    token = token_issuer.token(role="creator")
    with serve_in_thread(create_app(catalog_settings())) as url, httpx.Client(base_url=url) as client:
        body = {"title": "Fuzz", "price_cents": 0, "currency": "USD", "upload_id": "up-fuzz"}
        assert client.post("/content", json=body, headers=bearer(token)).status_code == 201
        yield url, token


def operation_ids() -> list[str]:
    document = create_app(CatalogSettings()).openapi_schema.to_schema()
    return sorted(op["operationId"] for path in document["paths"].values() for op in path.values())


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_server_errors_and_answers_match_the_schema(
    operation_id: str, running_catalog: tuple[str, str]
) -> None:
    url, token = running_catalog
    operation = schemathesis.openapi.from_url(f"{url}/docs/openapi.json").find_operation_by_id(operation_id)
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=url, headers=bearer(token), checks=CHECKS)

    fuzz()
