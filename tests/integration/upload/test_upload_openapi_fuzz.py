"""schemathesis against upload's own OpenAPI document: every check, every phase (examples, coverage,
fuzzing, stateful), signed in as a creator, an admin and a customer (whose creations are refused). No
failure is allowed but the refusals listed below, each of which needs state the generator cannot
know."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx

from codex_platform.testing import TokenIssuer, bearer
from codex_platform.testing.schemathesis_run import FuzzReport, Refusal, run_schemathesis, serve_in_thread
from codex_upload.app import create_app
from codex_upload.http import DEFAULT_MAX_UPLOAD_BYTES
from codex_upload.settings import UploadSettings

# Per operation and phase; UPLOAD_FUZZ_EXAMPLES=200 for a longer hunt.
EXAMPLES = int(os.environ.get("UPLOAD_FUZZ_EXAMPLES", "5"))

# A cursor is opaque: the last row's creation time and id, issued by the server.
REFUSALS = [
    Refusal(
        "GET /uploads",
        "positive_data_acceptance",
        "a cursor the server did not issue is refused (400); only a page holds one",
        status=400,
        sent="cursor=",
    ),
    Refusal(
        "POST /uploads/{upload_id}/complete",
        "positive_data_acceptance",
        "a part list must name exactly the upload's parts 1 to part_count (none for a single PUT): "
        "the count is the upload's, fixed when it was created (400)",
        status=400,
        sent='"parts"',
    ),
    Refusal(
        "Stateful tests",
        "positive_data_acceptance",
        "part URLs are given only for part numbers 1 to the upload's part_count, fixed when it was "
        "created from its size; a number past it is refused (400): state the generator cannot know",
        status=400,
        sent="/parts",
    ),
    Refusal(
        "POST /uploads/{upload_id}/parts",
        "positive_data_acceptance",
        "part URLs are given only for part numbers 1 to the upload's part_count (400 past it)",
        status=400,
        sent="part_numbers",
    ),
    Refusal(
        "Stateful tests",
        "use_after_free",
        "DELETE /uploads/{id} aborts the upload; the aborted upload stays readable (state aborted), "
        "as abortUpload's description says, rather than vanishing",
        sent="curl -X DELETE",
    ),
]


async def test_upload_passes_schemathesis(
    upload_settings_factory: Callable[..., UploadSettings], migrated: str, token_issuer: TokenIssuer
) -> None:
    tokens = {role: token_issuer.token(role=role) for role in ("creator", "admin", "customer")}
    # The document states the default size limit; the other tests lower it to keep multipart small.
    app = create_app(upload_settings_factory(max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES))
    # schemathesis is synchronous: the service runs in a thread of its own while it calls.
    report = await asyncio.to_thread(_fuzz, app, tokens)
    print(f"upload: {report.summary()}", *report.allowed_lines(), sep="\n  ")
    # The tokens opened what needs one: creators and admins start and list uploads.
    for identity in ("creator", "admin"):
        assert {"POST /uploads", "GET /uploads"} <= report.succeeded[identity], identity


def _fuzz(app: object, tokens: dict[str, str]) -> FuzzReport:
    with serve_in_thread(app, name="upload-under-test") as url:
        # The first signed-in request fetches the JWKS; on a loaded machine that fetch may be slow,
        # and a 503 for it is not what this test hunts. Once fetched, the keys are cached.
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/uploads", headers=bearer(tokens["creator"]), timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the service never accepted the token"
            time.sleep(0.5)
        return run_schemathesis(url, tokens=tokens, allowed=REFUSALS, max_examples=EXAMPLES)
