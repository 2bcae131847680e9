"""schemathesis against media-dispatch's own OpenAPI document: every check, every phase (examples,
coverage, fuzzing, stateful), as a creator with an asset of its own, a customer and an admin, and
anonymously. No failure is allowed but the refusals listed below, each of which needs state the
generator cannot know."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from media_dispatch_support import FakeRunpod, deliver, upload_completed

from codex_media_dispatch.app import create_app
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.testing import TokenIssuer
from codex_platform.testing.schemathesis_run import FuzzReport, Identity, Refusal, run_schemathesis

# Per operation and phase; MEDIA_DISPATCH_FUZZ_EXAMPLES=200 for a longer hunt.
EXAMPLES = int(os.environ.get("MEDIA_DISPATCH_FUZZ_EXAMPLES", "20"))

_CURSOR = "a cursor the server did not issue is refused (400); only a page holds one"
REFUSALS = [
    Refusal("GET /assets", "positive_data_acceptance", _CURSOR, status=400, sent="cursor="),
]


async def test_media_dispatch_passes_schemathesis(
    settings_factory: Callable[..., MediaDispatchSettings],
    deps: Deps,
    fake_runpod: FakeRunpod,
    token_issuer: TokenIssuer,
) -> None:
    creator = "fuzz-creator"
    await deliver(deps, upload_completed(deps.storage.bucket, owner_id=creator))
    tokens: dict[str, Identity] = {
        "creator": token_issuer.token(role="creator", user_id=creator),
        "customer": token_issuer.token(role="customer"),
        "admin": token_issuer.token(role="admin"),
        "anonymous": None,
    }
    app = create_app(settings_factory(), runpod_transport=fake_runpod.transport)
    # schemathesis is synchronous: the service runs in a thread of its own while it calls.
    report: FuzzReport = await asyncio.to_thread(
        run_schemathesis, app, tokens=tokens, allowed=REFUSALS, max_examples=EXAMPLES
    )
    print(f"media-dispatch: {report.summary()}", *report.allowed_lines(), sep="\n  ")
    assert report.total_cases > 0
