"""create_app behind a real uvicorn server: body limits on streamed bodies, request ids on the wire."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest
import uvicorn
from litestar import post
from litestar.params import JSONBody
from prometheus_client import CollectorRegistry

from codex_platform.http import create_app

LIMIT = 4096


class Note(msgspec.Struct):
    text: str


@post("/notes", operation_id="createNote")
async def create_note(data: JSONBody[Note]) -> Note:
    return data


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = create_app(
        service="servertest",
        route_handlers=[create_note],
        request_max_body_size=LIMIT,
        metrics_registry=CollectorRegistry(),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def test_declared_oversized_body_is_413_problem(base_url: str) -> None:
    body = msgspec.json.encode({"text": "x" * (LIMIT * 2)})
    response = httpx.post(f"{base_url}/notes", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_chunked_oversized_body_is_413_problem(base_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(LIMIT // 512 + 2):
            yield b"x" * 512
        yield b'"}'

    # A generator body goes out with Transfer-Encoding: chunked, so the server cannot trust a
    # content-length and must count while it reads.
    response = httpx.post(f"{base_url}/notes", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")


def test_body_within_the_limit_is_accepted(base_url: str) -> None:
    response = httpx.post(f"{base_url}/notes", json={"text": "hello"}, headers={"x-request-id": "wire-1"})
    assert response.status_code == 201
    assert response.json() == {"text": "hello"}
    assert response.headers["x-request-id"] == "wire-1"


def test_unknown_route_over_the_wire_has_request_id(base_url: str) -> None:
    response = httpx.get(f"{base_url}/missing")
    assert response.status_code == 404
    assert len(response.headers["x-request-id"]) == 32
    assert response.json()["request_id"] == response.headers["x-request-id"]
