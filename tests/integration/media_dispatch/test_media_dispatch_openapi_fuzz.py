"""schemathesis against media-dispatch's own OpenAPI document: generated requests (valid and invalid) to
every route, signed in as an admin, never get a 5xx nor an answer its documented schema does not describe."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from media_dispatch_support import FakeRunpod
from schemathesis import GenerationMode, checks

from codex_media_dispatch.app import create_app
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.testing import TokenIssuer

EXAMPLES = int(os.environ.get("MEDIA_DISPATCH_FUZZ_EXAMPLES", "40"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def running(settings_factory: Callable[..., MediaDispatchSettings], fake_runpod: FakeRunpod) -> Iterator[str]:
    """The service in a thread with its own event loop (schemathesis calls it synchronously)."""
    app = create_app(settings_factory(), runpod_transport=fake_runpod.transport)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name="media-dispatch-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def operation_ids() -> list[str]:
    document = create_app(MediaDispatchSettings()).openapi_schema.to_schema()
    return sorted(op["operationId"] for path in document["paths"].values() for op in path.values())


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_server_errors_and_answers_match_the_schema(
    operation_id: str, running: str, token_issuer: TokenIssuer
) -> None:
    token = token_issuer.token(role="admin")
    operation = schemathesis.openapi.from_url(f"{running}/docs/openapi.json").find_operation_by_id(
        operation_id
    )
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=running, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    fuzz()
