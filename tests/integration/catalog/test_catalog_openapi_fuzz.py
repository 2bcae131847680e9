"""schemathesis against the catalog's own OpenAPI document: every check, every phase (examples,
coverage, fuzzing, stateful), signed in as a creator (with content of its own), a customer and an
admin. No failure is allowed but the refusals listed below, each of which needs state the generator
cannot know."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import httpx

from codex_catalog.app import create_app
from codex_catalog.settings import CatalogSettings
from codex_platform.testing import TokenIssuer, bearer
from codex_platform.testing.schemathesis_run import FuzzReport, Refusal, run_schemathesis, serve_in_thread

# Per operation and phase; CATALOG_FUZZ_EXAMPLES=200 for a longer hunt.
EXAMPLES = int(os.environ.get("CATALOG_FUZZ_EXAMPLES", "20"))

# A cursor is opaque: the last row's sort key and the query it belongs to, issued by the server.
_CURSOR = "a cursor the server did not issue for this listing is refused (400); only a page holds one"
REFUSALS = [
    Refusal("GET /content", "positive_data_acceptance", _CURSOR, status=400, sent="cursor="),
    Refusal("GET /content/mine", "positive_data_acceptance", _CURSOR, status=400, sent="cursor="),
]


async def test_catalog_passes_schemathesis(
    catalog_settings: Callable[..., CatalogSettings], migrated: str, token_issuer: TokenIssuer
) -> None:
    tokens = {role: token_issuer.token(role=role) for role in ("creator", "customer", "admin")}
    app = create_app(catalog_settings())
    # schemathesis is synchronous: the service runs in a thread of its own while it calls.
    report = await asyncio.to_thread(_fuzz, app, tokens)
    print(f"catalog: {report.summary()}", *report.allowed_lines(), sep="\n  ")
    # The tokens opened what needs one: a creator's and an admin's own listing, a creator's new content.
    assert {"POST /content", "GET /content/mine"} <= report.succeeded["creator"]
    assert "GET /content/mine" in report.succeeded["admin"]


def _fuzz(app: object, tokens: dict[str, str]) -> FuzzReport:
    with serve_in_thread(app, name="catalog-under-test") as url:
        with httpx.Client(base_url=url) as client:
            body = {"title": "Fuzz", "price_cents": 0, "currency": "USD", "upload_id": "up-fuzz"}
            created = client.post("/content", json=body, headers=bearer(tokens["creator"]))
            assert created.status_code == 201, created.text
        return run_schemathesis(url, tokens=tokens, allowed=REFUSALS, max_examples=EXAMPLES)
