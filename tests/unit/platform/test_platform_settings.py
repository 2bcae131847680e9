"""Settings: environment names, conversions by type, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import msgspec
import pytest

from codex_platform.settings import BaseSettings, Port, SettingsError, load_settings, settings_or_exit


class AuthSettings(BaseSettings, frozen=True, kw_only=True):
    port: Port = 8001
    session_ttl_seconds: int = 3600
    password_cost: float = 1.5
    allow_signup: bool = True
    trusted_proxies: list[str] = []
    retry_delays: list[int] = msgspec.field(default_factory=lambda: [1, 5])
    jwt_issuer: str = "codex-auth"


class Needs(BaseSettings, frozen=True, kw_only=True):
    stripe_secret_key: str
    webhook_timeout: int = 10


def test_defaults_point_at_the_local_services() -> None:
    settings = load_settings(AuthSettings, "CODEX_AUTH_", environ={})

    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/postgres"
    assert settings.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.environment == "development"
    assert settings.port == 8001
    assert settings.s3_endpoint_url is None
    assert settings.effective_log_format == "console"


def test_conventional_names_and_prefixed_names_prefixed_winning() -> None:
    environ = {
        "DATABASE_URL": "postgresql://app@db:5432/codex",
        "PORT": "9000",
        "CODEX_AUTH_PORT": "9001",
        "ENVIRONMENT": "production",
        "S3_ENDPOINT_URL": "http://minio:9000",
    }
    settings = load_settings(AuthSettings, "CODEX_AUTH_", environ=environ)

    assert settings.database_url == "postgresql://app@db:5432/codex"
    assert settings.port == 9001
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.effective_log_format == "json"


def test_strings_convert_by_field_type() -> None:
    environ = {
        "CODEX_AUTH_SESSION_TTL_SECONDS": "60",
        "CODEX_AUTH_PASSWORD_COST": "2.25",
        "CODEX_AUTH_ALLOW_SIGNUP": "off",
        "CODEX_AUTH_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2",
        "CODEX_AUTH_RETRY_DELAYS": "[2, 4, 8]",
        "CORS_ORIGINS": "http://localhost:5173,https://codex.example",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "JSON",
        "S3_ENDPOINT_URL": "",
    }
    settings = load_settings(AuthSettings, "CODEX_AUTH_", environ=environ)

    assert settings.session_ttl_seconds == 60
    assert settings.password_cost == 2.25
    assert settings.allow_signup is False
    assert settings.trusted_proxies == ["10.0.0.1", "10.0.0.2"]
    assert settings.retry_delays == [2, 4, 8]
    assert settings.cors_origins == ["http://localhost:5173", "https://codex.example"]
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.s3_endpoint_url is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CODEX_AUTH_PORT": "abc"}, "CODEX_AUTH_PORT: expected a port number (1-65535), got 'abc'"),
        ({"PORT": "70000"}, "PORT: expected a port number (1-65535), got '70000'"),
        (
            {"CODEX_AUTH_SESSION_TTL_SECONDS": "1h"},
            "CODEX_AUTH_SESSION_TTL_SECONDS: expected an integer, got '1h'",
        ),
        (
            {"CODEX_AUTH_ALLOW_SIGNUP": "maybe"},
            "CODEX_AUTH_ALLOW_SIGNUP: expected a boolean (true/false, 1/0, yes/no, on/off), got 'maybe'",
        ),
        (
            {"ENVIRONMENT": "prod"},
            "ENVIRONMENT: expected one of 'development', 'production', 'test', got 'prod'",
        ),
        (
            {"CODEX_AUTH_RETRY_DELAYS": "1,x"},
            "CODEX_AUTH_RETRY_DELAYS: expected a comma-separated list (each an integer), got '1,x'",
        ),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL: expected a URL, got 'localhost:6379'"),
    ],
)
def test_a_malformed_value_is_one_line_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(AuthSettings, "CODEX_AUTH_", environ=environ)

    assert str(raised.value) == message
    assert "\n" not in str(raised.value)


def test_a_missing_required_setting_names_the_prefixed_variable() -> None:
    with pytest.raises(SettingsError, match=r"^CODEX_PURCHASE_STRIPE_SECRET_KEY: required but not set$"):
        load_settings(Needs, "CODEX_PURCHASE_", environ={})

    settings = load_settings(Needs, "CODEX_PURCHASE_", environ={"STRIPE_SECRET_KEY": "sk_test_1"})
    assert settings.stripe_secret_key == "sk_test_1"


def test_errors_never_echo_secrets() -> None:
    class Keyed(BaseSettings, frozen=True, kw_only=True):
        signing_secret_ttl: int = 1

    with pytest.raises(SettingsError) as raised:
        load_settings(Keyed, "CODEX_X_", environ={"CODEX_X_SIGNING_SECRET_TTL": "hunter2"})
    assert "hunter2" not in str(raised.value)
    assert "CODEX_X_SIGNING_SECRET_TTL" in str(raised.value)

    with pytest.raises(SettingsError) as raised:
        load_settings(BaseSettings, environ={"DATABASE_URL": "postgres:/app:hunter2@db/codex"})
    assert "hunter2" not in str(raised.value)


def test_cross_field_checks_in_post_init_become_settings_errors() -> None:
    class Ranged(BaseSettings, frozen=True, kw_only=True):
        min_parts: int = 1
        max_parts: int = 10

        def __post_init__(self) -> None:
            if self.min_parts > self.max_parts:
                raise ValueError("min_parts must not exceed max_parts")

    with pytest.raises(SettingsError, match="min_parts must not exceed max_parts"):
        load_settings(Ranged, "CODEX_UPLOAD_", environ={"CODEX_UPLOAD_MIN_PARTS": "20"})


def test_settings_or_exit_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        settings_or_exit(AuthSettings, "CODEX_AUTH_", environ={"CODEX_AUTH_PORT": "abc"})

    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CODEX_AUTH_PORT: expected a port number (1-65535), got 'abc'" in err


def test_settings_or_exit_in_a_process_shows_no_traceback() -> None:
    script = textwrap.dedent(
        """
        from codex_platform.settings import BaseSettings, settings_or_exit
        settings_or_exit(BaseSettings, "CODEX_CATALOG_")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"CODEX_CATALOG_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: CODEX_CATALOG_PORT: expected a port number (1-65535), got 'eighty'"
    ]


def test_loaded_settings_are_plain_structs() -> None:
    settings = load_settings(AuthSettings, "CODEX_AUTH_", environ={"CODEX_AUTH_JWT_ISSUER": "me"})

    assert msgspec.structs.asdict(settings)["jwt_issuer"] == "me"
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
