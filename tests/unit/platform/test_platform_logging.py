"""Logging: one renderer for structlog and stdlib, context on every line, and no secret in the output."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
import structlog

from codex_platform.logging import (
    REDACTED,
    configure_logging,
    configure_logging_from,
    redact_secrets,
    redact_text,
)
from codex_platform.settings import BaseSettings, load_settings

PRESIGNED = (
    "http://127.0.0.1:9000/codex/uploads/42/source.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z"
    "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE"
    "&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
)
SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def capture() -> Iterator[Callable[..., io.StringIO]]:
    """Configure logging into a buffer; restore structlog and the root logger afterwards."""
    root = logging.getLogger()
    level = root.level

    def configure(fmt: str = "json", level: str = "INFO") -> io.StringIO:
        buffer = io.StringIO()
        configure_logging(level, fmt, service="auth", stream=buffer)  # type: ignore[arg-type]
        return buffer

    yield configure
    for handler in [h for h in root.handlers if h.get_name() == "codex"]:
        root.removeHandler(handler)
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_presigned_url_keeps_its_path_but_not_its_signature(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture()
    structlog.stdlib.get_logger("upload").info("upload.presigned", url=PRESIGNED)

    (line,) = lines(buffer)
    assert line["url"].startswith("http://127.0.0.1:9000/codex/uploads/42/source.mp4?")
    assert "X-Amz-Expires=900" in line["url"]
    assert f"X-Amz-Signature={REDACTED}" in line["url"]
    assert SIGNATURE not in buffer.getvalue()
    assert "AKIAEXAMPLE" not in buffer.getvalue()
    assert "FwoGZXIvYXdzEXAMPLE" not in buffer.getvalue()


def test_secrets_are_masked_by_key_at_any_depth(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture()
    request = {
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Content-Type": "application/json"},
        "cookies": [{"name": "session", "Set-Cookie": "sid=abc123"}],
        "body": {"email": "a@example.com", "password": "hunter2", "profile": {"api_key": "k-999"}},
        "raw_headers": [("authorization", "Bearer tok-777"), ("accept", "*/*")],
    }
    structlog.stdlib.get_logger().info(
        "signup", request=request, access_token="at-1", refresh_token="rt-1", client_secret="cs-1"
    )

    (line,) = lines(buffer)
    assert line["request"]["headers"] == {"Authorization": REDACTED, "Content-Type": "application/json"}
    assert line["request"]["cookies"] == REDACTED
    assert line["request"]["body"] == {
        "email": "a@example.com",
        "password": REDACTED,
        "profile": {"api_key": REDACTED},
    }
    assert line["request"]["raw_headers"] == [["authorization", REDACTED], ["accept", "*/*"]]
    assert line["access_token"] == line["refresh_token"] == line["client_secret"] == REDACTED
    for secret in ("hunter2", "k-999", "tok-777", "sid=abc123", "dXNlcjpwYXNz", "at-1", "rt-1", "cs-1"):
        assert secret not in buffer.getvalue()
    # The caller's objects are left as they were.
    assert request["body"]["password"] == "hunter2"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (f"GET {PRESIGNED} 200", "/codex/uploads/42/source.mp4", SIGNATURE),
        (
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA1&Expires=1700000000&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D",
            "Expires=1700000000",
            "vjbyPxybdZaNmGa",
        ),
        (
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIA1/20250101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
            "SignedHeaders=host",
            "fe5f80f77d5fa3",
        ),
        ("calling with Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer", "abc.def-ghi_jkl"),
        ("connect to postgresql://codex:s3cr3t@db:5432/codex failed", "postgresql://codex:", "s3cr3t"),
        ("amqp://guest:guest@127.0.0.1:5672/ unreachable", "@127.0.0.1:5672", "guest@"),
        (f"token was {JWT}", "token was", JWT),
        ("https://codex.example/verify-email?token=ve-1234&next=/", "next=/", "ve-1234"),
        ("stripe rejected sk_live_51Habc and whsec_9xyz", "stripe rejected", "sk_live_51Habc"),
    ],
)
def test_secrets_inside_strings_are_masked(text: str, kept: str, gone: str) -> None:
    redacted = redact_text(text)

    assert kept in redacted
    assert gone not in redacted
    assert REDACTED in redacted


def test_ordinary_values_pass_unchanged() -> None:
    event = {"event": "upload.completed", "key": "uploads/1/a.mp4", "size": 5, "ok": True, "parts": [1, 2]}

    assert redact_secrets(None, "info", dict(event)) == event


def test_structs_and_dataclasses_are_logged_field_by_field_with_secrets_masked(
    capture: Callable[..., io.StringIO],
) -> None:
    @dataclass
    class Job:
        id: str
        webhook_secret: str

    buffer = capture()
    settings = msgspec.convert(
        {"s3_secret_access_key": "minio-secret", "s3_access_key_id": "minio"}, BaseSettings
    )
    structlog.stdlib.get_logger().info("starting", settings=settings, job=Job("j-1", "wh-secret"))

    (line,) = lines(buffer)
    assert line["settings"]["s3_secret_access_key"] == REDACTED
    assert line["settings"]["s3_access_key_id"] == "minio"
    assert line["settings"]["amqp_url"] == f"amqp://guest:{REDACTED}@127.0.0.1:5672/"
    assert line["job"] == {"id": "j-1", "webhook_secret": REDACTED}
    assert "minio-secret" not in buffer.getvalue()


def test_stdlib_records_share_the_renderer_and_the_bound_context(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture()
    structlog.contextvars.bind_contextvars(request_id="req-1", correlation_id="corr-9")
    logging.getLogger("uvicorn.access").info('%s - "%s" %d', "10.0.0.1", f"GET {PRESIGNED}", 200)
    logging.getLogger("aio_pika").warning("connection lost to %s", "amqp://guest:guest@rabbit:5672/")
    structlog.stdlib.get_logger("catalog").info("content.published", content_id="c-1")

    access, broker, ours = lines(buffer)
    assert access["logger"] == "uvicorn.access"
    assert access["level"] == "info"
    assert SIGNATURE not in access["event"]
    assert broker["event"] == f"connection lost to amqp://guest:{REDACTED}@rabbit:5672/"
    for line in (access, broker, ours):
        assert line["request_id"] == "req-1"
        assert line["correlation_id"] == "corr-9"
        assert line["service"] == "auth"
        assert line["timestamp"].endswith("Z")


def test_exceptions_are_rendered_and_scrubbed(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture()
    try:
        raise ConnectionError("could not reach postgresql://codex:pw-42@db/codex")
    except ConnectionError:
        structlog.stdlib.get_logger().exception("db.unreachable")

    (line,) = lines(buffer)
    assert line["level"] == "error"
    assert "Traceback" in line["exception"]
    assert "ConnectionError" in line["exception"]
    assert "pw-42" not in buffer.getvalue()


def test_console_format_is_readable_and_still_redacted(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture("console")
    structlog.stdlib.get_logger("upload").info("upload.presigned", url=PRESIGNED, password="hunter2")

    output = buffer.getvalue()
    assert not output.lstrip().startswith("{")
    assert "upload.presigned" in output
    assert "[info" in output
    assert "/codex/uploads/42/source.mp4" in output
    assert SIGNATURE not in output
    assert "hunter2" not in output


def test_level_filters_structlog_and_stdlib(capture: Callable[..., io.StringIO]) -> None:
    buffer = capture(level="WARNING")
    structlog.stdlib.get_logger().info("quiet")
    logging.getLogger("asyncpg").info("quiet too")
    structlog.stdlib.get_logger().warning("loud")

    assert [line["event"] for line in lines(buffer)] == ["loud"]


def test_reconfiguring_replaces_the_handler(capture: Callable[..., io.StringIO]) -> None:
    first = capture()
    second = capture()
    logging.getLogger("codex.test").warning("once")

    assert first.getvalue() == ""
    assert len(lines(second)) == 1
    assert [h.get_name() for h in logging.getLogger().handlers].count("codex") == 1


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD", "json")


def test_settings_choose_json_in_production(
    capture: Callable[..., io.StringIO], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(BaseSettings, environ={"ENVIRONMENT": "production", "LOG_LEVEL": "warning"})

    configure_logging_from(settings, "purchase")
    structlog.stdlib.get_logger().info("hidden")
    structlog.stdlib.get_logger().warning("payment.failed", authorization="Bearer x")

    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["service"] == "purchase"
    assert line["authorization"] == REDACTED
