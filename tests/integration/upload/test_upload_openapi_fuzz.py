"""schemathesis against upload's own OpenAPI document: generated requests (valid and invalid) to every
route, signed in as a creator, must never get a 5xx nor an answer its documented schema does not describe."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from codex_platform.testing import TokenIssuer, bearer
from codex_upload.app import create_app
from codex_upload.settings import UploadSettings

# Per operation; UPLOAD_FUZZ_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("UPLOAD_FUZZ_EXAMPLES", "40"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """The app under uvicorn in a thread with its own loop: schemathesis calls it synchronously."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name="upload-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start; see its log lines")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def running_upload(
    upload_settings_factory: Callable[..., UploadSettings], migrated: str, token_issuer: TokenIssuer
) -> Iterator[tuple[str, str]]:
    token = token_issuer.token(role="creator")
    with serve_in_thread(create_app(upload_settings_factory())) as url:
        # The first signed-in request fetches the JWKS; on a loaded machine that fetch may be slow,
        # and a 503 for it is not what this test hunts. Once fetched, the keys are cached.
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/uploads", headers=bearer(token), timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the service never accepted the token"
            time.sleep(0.5)
        yield url, token


def operation_ids() -> list[str]:
    """Every operation of the document, read from the app without starting it."""
    document = create_app(UploadSettings()).openapi_schema.to_schema()
    return sorted(op["operationId"] for path in document["paths"].values() for op in path.values())


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_server_errors_and_answers_match_the_schema(
    operation_id: str, running_upload: tuple[str, str]
) -> None:
    url, token = running_upload
    operation = schemathesis.openapi.from_url(f"{url}/docs/openapi.json").find_operation_by_id(operation_id)
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    fuzz()
