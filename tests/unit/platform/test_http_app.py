"""create_app: problem details for every error, request ids, health, readiness, metrics, docs, CORS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Request, get, post
from litestar.openapi.spec import SecurityScheme
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from codex_platform.http import BEARER_SCHEME_NAME, SENSITIVE_PATH_OPT, Problem, create_app, problems

PROBLEM = "application/problem+json"
SECRET_DSN = "postgresql://codex:hunter2@db.internal:5432/codex"


class ItemCreate(msgspec.Struct):
    name: str
    quantity: int


@post("/items", operation_id="createItem")
async def create_item(data: JSONBody[ItemCreate]) -> ItemCreate:
    return data


@get("/items/{item_id:int}", operation_id="getItem", responses=problems(400, 404, 418))
async def get_item(item_id: FromPath[int], limit: FromQuery[int] = 10) -> dict[str, int]:
    return {"id": item_id, "limit": limit}


@get("/boom", operation_id="boom")
async def boom() -> None:
    raise RuntimeError(f"cannot reach {SECRET_DSN}")


@get("/conflict", operation_id="conflict")
async def conflict() -> None:
    raise Problem(
        409,
        detail="This content is already published.",
        type="urn:codex:problem:already-published",
        extra={"content_id": "c-1"},
    )


@get("/slow-down", operation_id="slowDown")
async def slow_down() -> None:
    raise Problem(429, detail="Too many attempts.", headers={"Retry-After": "30"})


@get("/request-id", operation_id="echoRequestId")
async def echo_request_id(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"request_id": request.state.request_id}


@post("/hooks/{secret:str}", operation_id="webhook", opt={SENSITIVE_PATH_OPT: True}, status_code=204)
async def webhook(secret: FromPath[str]) -> None:
    return None


async def failing_db_check() -> None:
    raise ConnectionError(f"connection refused: {SECRET_DSN}")


async def passing_check() -> None:
    return None


async def hanging_check() -> None:
    await asyncio.sleep(30)


def build_app(**overrides: Any) -> Litestar:
    options: dict[str, Any] = {
        "service": "testsvc",
        "route_handlers": [create_item, get_item, boom, conflict, slow_down, echo_request_id, webhook],
        "metrics_registry": CollectorRegistry(),
        "request_max_body_size": 1024,
    }
    options.update(overrides)
    app: Litestar = create_app(**options)
    return app


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=build_app()) as test_client:
        yield test_client


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_malformed_json_body_is_400_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(
        "/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == "urn:codex:problem:malformed-body"
    assert body["instance"] == "/items"


async def test_body_with_invalid_utf8_is_400_problem(client: AsyncTestClient[Litestar]) -> None:
    # Valid JSON syntax, but a string holding a byte that is no UTF-8: msgspec raises
    # UnicodeDecodeError, not the DecodeError Litestar maps to 400.
    response = await client.post(
        "/items", content=b'{"name": "\xff", "quantity": 1}', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["type"] == "urn:codex:problem:malformed-body"
    assert body["detail"] == "The body is not valid UTF-8"


async def test_validation_error_is_400_problem_listing_fields(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/items", json={"name": "x", "quantity": "many"})
    body = assert_problem(response, 400)
    assert body["type"] == "urn:codex:problem:validation-error"
    assert body["errors"] == [{"field": "quantity", "source": "body", "message": "Expected `int`, got `str`"}]


async def test_query_validation_error_does_not_echo_the_query_string(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/items/1", params={"limit": "lots", "token": "s3cr3t-token"})
    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == ["limit"]
    assert "s3cr3t-token" not in response.text


async def test_unknown_route_is_404_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/route")
    body = assert_problem(response, 404)
    assert body["instance"] == "/no/such/route"


async def test_wrong_method_is_405_problem_with_allow(client: AsyncTestClient[Litestar]) -> None:
    response = await client.delete("/items")
    assert_problem(response, 405)
    assert "POST" in response.headers["allow"]


async def test_body_over_the_limit_is_413_problem(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/items", json={"name": "x" * 2000, "quantity": 1})
    assert_problem(response, 413)


async def test_unhandled_exception_is_generic_500_and_logged_with_request_id(
    client: AsyncTestClient[Litestar],
) -> None:
    with capture_logs() as logs:
        response = await client.get("/boom", headers={"x-request-id": "req-500"})
    body = assert_problem(response, 500)
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert "hunter2" not in response.text
    errors = [entry for entry in logs if entry["event"] == "unhandled_exception"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "req-500" == body["request_id"]
    assert isinstance(errors[0]["exc_info"], RuntimeError)


async def test_debug_mode_does_not_leak_tracebacks() -> None:
    async with AsyncTestClient(app=build_app(debug=True)) as debug_client:
        response = await debug_client.get("/boom")
    assert_problem(response, 500)
    assert "Traceback" not in response.text
    assert "hunter2" not in response.text


async def test_problem_raised_by_handler_keeps_its_members(client: AsyncTestClient[Litestar]) -> None:
    body = assert_problem(await client.get("/conflict"), 409)
    assert body["title"] == "Conflict"
    assert body["detail"] == "This content is already published."
    assert body["type"] == "urn:codex:problem:already-published"
    assert body["content_id"] == "c-1"


async def test_problem_429_carries_retry_after(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/slow-down")
    assert_problem(response, 429)
    assert response.headers["retry-after"] == "30"


def test_problem_extra_members_cannot_shadow_standard_ones() -> None:
    with pytest.raises(ValueError, match="status"):
        Problem(409, extra={"status": 200})


async def test_sane_request_id_is_echoed_and_visible_to_handlers(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/request-id", headers={"x-request-id": "edge-7f3a.b:1"})
    assert response.headers["x-request-id"] == "edge-7f3a.b:1"
    assert response.json() == {"request_id": "edge-7f3a.b:1"}


@pytest.mark.parametrize("supplied", ["x" * 129, "has space", 'quote"d', "back\\slash", "é"])
async def test_insane_request_id_is_replaced(client: AsyncTestClient[Litestar], supplied: str) -> None:
    response = await client.get("/request-id", headers=[(b"x-request-id", supplied.encode())])
    generated = response.headers["x-request-id"]
    assert generated != supplied
    assert len(generated) == 32
    assert response.json() == {"request_id": generated}


async def test_request_id_is_generated_for_every_response(client: AsyncTestClient[Litestar]) -> None:
    first = await client.get("/no/such/route")
    second = await client.get("/healthz")
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2


async def test_access_log_has_one_line_without_query_or_headers(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        await client.get(
            "/items/5",
            params={"token": "s3cr3t-token"},
            headers={"authorization": "Bearer abc.def.ghi", "x-request-id": "log-1"},
        )
    lines = [entry for entry in logs if entry["event"] == "http_request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["method"] == "GET"
    assert line["path"] == "/items/5"
    assert line["route"] == "/items/{item_id}"
    assert line["status"] == 200
    assert line["request_id"] == "log-1"
    assert isinstance(line["duration_ms"], float)
    assert "s3cr3t-token" not in repr(logs)
    assert "abc.def.ghi" not in repr(logs)


async def test_access_log_shows_template_of_sensitive_paths(client: AsyncTestClient[Litestar]) -> None:
    with capture_logs() as logs:
        response = await client.post("/hooks/per-job-secret-123")
    assert response.status_code == 204
    assert "per-job-secret-123" not in repr(logs)
    assert [entry["path"] for entry in logs if entry["event"] == "http_request"] == ["/hooks/{secret}"]


async def test_healthz_is_ok(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_passing_check() -> None:
    app = build_app(readiness_checks={"db": passing_check, "broker": passing_check})
    async with AsyncTestClient(app=app) as ready_client:
        response = await ready_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"db": "ok", "broker": "ok"}}


async def test_readyz_is_503_naming_the_failing_check_without_secrets() -> None:
    app = build_app(readiness_checks={"db": failing_db_check, "broker": passing_check})
    async with AsyncTestClient(app=app) as ready_client:
        response = await ready_client.get("/readyz")
    body = assert_problem(response, 503)
    assert body["checks"] == {"db": "failed", "broker": "ok"}
    assert "db" in body["detail"]
    assert "hunter2" not in response.text
    assert "db.internal" not in response.text


async def test_readyz_times_out_a_hanging_check() -> None:
    app = build_app(readiness_checks={"cache": hanging_check}, readiness_timeout_s=0.05)
    async with AsyncTestClient(app=app) as ready_client:
        response = await asyncio.wait_for(ready_client.get("/readyz"), timeout=5)
    body = assert_problem(response, 503)
    assert body["checks"] == {"cache": "timeout"}


async def test_metrics_count_requests_by_route_template() -> None:
    registry = CollectorRegistry()
    async with AsyncTestClient(app=build_app(metrics_registry=registry)) as metrics_client:
        await metrics_client.get("/items/1")
        await metrics_client.get("/items/2")
        await metrics_client.get("/no/such/route")
        response = await metrics_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    assert registry.get_sample_value("http_requests_total", labels) == 2
    assert registry.get_sample_value("http_request_duration_seconds_count", labels) == 2
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert registry.get_sample_value("http_requests_total", unmatched) == 1
    assert 'route="/items/{item_id}"' in response.text


def test_two_apps_can_share_the_default_registry() -> None:
    create_app(service="a", route_handlers=[])
    create_app(service="b", route_handlers=[])


async def test_openapi_is_served_under_docs_with_operation_ids(client: AsyncTestClient[Litestar]) -> None:
    ui = await client.get("/docs")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]
    schema = (await client.get("/docs/openapi.json")).json()
    assert schema["info"] == {"title": "codex testsvc", "version": "0.1.0"}
    operation_ids = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert {"getLiveness", "getReadiness", "getMetrics", "createItem"} <= operation_ids


async def test_routes_document_their_problem_answers(client: AsyncTestClient[Litestar]) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    responses = schema["paths"]["/items/{item_id}"]["get"]["responses"]
    assert {"400", "404", "418"} <= set(responses)
    for status in ("400", "404", "418"):
        content = responses[status]["content"]
        assert list(content) == [PROBLEM]
        assert content[PROBLEM]["schema"]["$ref"].endswith("/ProblemDetails")
    assert responses["404"]["description"] == "No such resource"
    assert responses["418"]["description"] == "I'm a Teapot"  # a status the platform has no words for


def test_problem_descriptions_can_be_a_services_own() -> None:
    specs = problems(403, 404, descriptions={403: "Only the owner may"})
    assert (specs[403].description, specs[404].description) == ("Only the owner may", "No such resource")


async def test_bearer_scheme_is_declared_only_when_asked_or_verifying() -> None:
    def declared(app: Litestar) -> dict[str, Any]:
        components = app.openapi_schema.to_schema().get("components", {})
        schemes: dict[str, Any] = components.get("securitySchemes", {})
        return schemes

    cookie = SecurityScheme(type="apiKey", security_scheme_in="cookie", name="session")
    assert declared(build_app()) == {}
    own_verification = declared(build_app(bearer_scheme=True, security_schemes={"sessionCookie": cookie}))
    assert list(own_verification) == [BEARER_SCHEME_NAME, "sessionCookie"]
    assert own_verification[BEARER_SCHEME_NAME] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert own_verification["sessionCookie"]["in"] == "cookie"


async def test_cors_allows_listed_origins_with_credentials() -> None:
    app = build_app(cors_origins=["https://app.codex.test"])
    async with AsyncTestClient(app=app) as cors_client:
        preflight = await cors_client.options(
            "/items",
            headers={
                "origin": "https://app.codex.test",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        simple = await cors_client.get("/healthz", headers={"origin": "https://app.codex.test"})
        foreign = await cors_client.get("/healthz", headers={"origin": "https://evil.test"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://app.codex.test"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in preflight.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.codex.test"
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in foreign.headers


def test_cors_wildcard_is_refused_with_credentials() -> None:
    with pytest.raises(ValueError, match="cors_origins"):
        build_app(cors_origins=["*"])
