"""schemathesis against auth's own OpenAPI document: generated requests (valid and invalid) to every
route, signed in, must never get a 5xx nor an answer that its documented schema does not describe."""

from __future__ import annotations

import email
import os
import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from auth_harness import PASSWORD, TRUSTED_ORIGIN, serve_in_thread
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from codex_auth.app import create_app
from codex_auth.settings import AuthSettings

# Per operation; AUTH_FUZZ_EXAMPLES=500 for a longer hunt.
EXAMPLES = int(os.environ.get("AUTH_FUZZ_EXAMPLES", "60"))
# No 5xx, and every answer as documented: its status code, content type, headers and body.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def running_auth(auth_settings_factory: Callable[..., Any], migrated: str) -> Iterator[tuple[str, str]]:
    """The service in a thread of its own (schemathesis calls it synchronously), and a bearer token."""
    settings = auth_settings_factory()
    app = create_app(settings)
    with (
        serve_in_thread(app) as url,
        httpx.Client(base_url=url, headers={"Origin": TRUSTED_ORIGIN}) as client,
    ):
        body = {"email": "fuzz@example.com", "password": PASSWORD, "display_name": "Fuzz"}
        assert client.post("/auth/signup", json=body).status_code == 202
        token = mailed_token(Path(settings.mail_folder), "/verify-email")
        assert client.post("/auth/verify-email/confirm", json={"token": token}).status_code == 204
        login = client.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
        yield url, login.json()["access_token"]


def mailed_token(folder: Path, path: str, timeout_s: float = 10) -> str:
    """The token of the first link to `path` written to `folder` (the mail goes out after the answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for mail in folder.glob("*.eml"):
            message = email.message_from_bytes(mail.read_bytes(), policy=default_policy)
            assert isinstance(message, EmailMessage)
            body = message.get_body(("plain",))
            text = body.get_content() if body is not None else ""
            found = re.search(re.escape(path) + r"#token=([A-Za-z0-9_\-]+)", text)
            if found:
                return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no mail with a {path} link in {folder}")


def operation_ids() -> list[str]:
    """Every operation of the document, read from the app without starting it."""
    document = create_app(AuthSettings()).openapi_schema.to_schema()
    return sorted(op["operationId"] for path in document["paths"].values() for op in path.values())


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_server_errors_and_answers_match_the_schema(
    operation_id: str, running_auth: tuple[str, str]
) -> None:
    url, token = running_auth
    operation = schemathesis.openapi.from_url(f"{url}/docs/openapi.json").find_operation_by_id(operation_id)
    # Valid requests and invalid ones (wrong types, missing fields, bad path parameters).
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

    fuzz()
