"""Settings that fail open must say so: outside production every service announces at start-up, in
one line, that it runs a development configuration and which development-only defaults it took;
stand-ins refuse production altogether."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from codex_auth.settings import PREFIX, AuthSettings
from codex_platform.service_cli import announce_configuration
from codex_platform.settings import SettingsError, load_settings
from codex_runpod_local.settings import Settings as RunpodLocalSettings

SECRET = "s" * 48


def test_without_environment_auth_names_the_public_secret_and_the_mail_folder() -> None:
    settings = load_settings(AuthSettings, PREFIX, environ={})
    assert settings.development_defaults() == ["environment", "auth_secret", "resend_api_key"]
    with capture_logs() as logs:
        announce_configuration("auth", settings)
    [line] = logs
    assert line["event"] == "development_configuration" and line["log_level"] == "warning"
    assert line["service"] == "auth" and line["environment"] == "development"
    assert line["defaults"] == ["environment", "auth_secret", "resend_api_key"]
    assert settings.auth_secret not in repr(line)  # names only, never a value


def test_a_configured_test_environment_still_says_what_it_runs() -> None:
    environ = {"ENVIRONMENT": "test", "AUTH_SECRET": SECRET, "RESEND_API_KEY": "re_123"}
    settings = load_settings(AuthSettings, PREFIX, environ=environ)
    assert settings.development_defaults() == []
    with capture_logs() as logs:
        announce_configuration("auth", settings)
    assert [(line["environment"], line["defaults"]) for line in logs] == [("test", [])]
    assert "re_123" not in repr(logs) and SECRET not in repr(logs)


def test_production_says_nothing() -> None:
    settings = load_settings(
        AuthSettings, PREFIX, environ={"ENVIRONMENT": "production", "AUTH_SECRET": SECRET}
    )
    with capture_logs() as logs:
        announce_configuration("auth", settings)
    assert logs == []


def test_the_runpod_stand_in_refuses_production_even_with_a_key_of_its_own() -> None:
    with pytest.raises(SettingsError, match="production"):
        load_settings(RunpodLocalSettings, "CODEX_RUNPOD_LOCAL_", environ={"ENVIRONMENT": "production"})
    with pytest.raises(SettingsError, match="production"):
        load_settings(
            RunpodLocalSettings,
            "CODEX_RUNPOD_LOCAL_",
            environ={"ENVIRONMENT": "production", "RUNPOD_API_KEY": "a-real-looking-key"},
        )
    assert load_settings(RunpodLocalSettings, "CODEX_RUNPOD_LOCAL_", environ={}).environment == "development"
