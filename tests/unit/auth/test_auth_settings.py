"""Settings: the issue's numbers are the defaults; production refuses the development secret."""

from __future__ import annotations

import pytest

from codex_auth.bootstrap import key_grace
from codex_auth.settings import PREFIX, AuthSettings, rate
from codex_platform.ratelimit import Limit
from codex_platform.settings import SettingsError, load_settings


def test_defaults_are_the_issues_numbers() -> None:
    settings = load_settings(AuthSettings, PREFIX, environ={})
    assert settings.port == 8001
    assert rate(settings.signup_limit) == Limit(3, 10) == rate(settings.login_limit)
    assert rate(settings.mail_limit) == Limit(3, 60)
    assert (settings.login_lock_threshold, settings.login_lock_s) == (10, 900)
    assert settings.access_token_ttl_s == 900
    assert settings.session_ttl_s == 7 * 24 * 3600 and settings.session_extend_after_s == 24 * 3600
    assert settings.one_time_token_ttl_s == 3600
    assert key_grace(settings).total_seconds() == 900 + 30 + 30


def test_production_needs_its_own_secret() -> None:
    with pytest.raises(SettingsError, match="AUTH_SECRET"):
        load_settings(AuthSettings, PREFIX, environ={"ENVIRONMENT": "production"})
    secret = "s" * 48
    settings = load_settings(
        AuthSettings, PREFIX, environ={"ENVIRONMENT": "production", "AUTH_SECRET": secret}
    )
    assert settings.auth_secret == secret and settings.secure_cookies
    with pytest.raises(SettingsError):
        load_settings(AuthSettings, PREFIX, environ={"AUTH_SECRET": "too short"})


def test_service_variables_win_over_conventional_ones() -> None:
    # Each setting in both forms, so the test fails if the precedence is reversed.
    environ = {
        "PORT": "9000",
        "CODEX_AUTH_PORT": "9001",
        "LOGIN_LIMIT": "7/70",
        "CODEX_AUTH_LOGIN_LIMIT": "5/30",
        "CORS_ORIGINS": "https://app.example",
    }
    settings = load_settings(AuthSettings, PREFIX, environ=environ)
    assert settings.port == 9001 and rate(settings.login_limit) == Limit(5, 30)
    assert settings.cors_origins == ["https://app.example"]  # the conventional name where alone
    with pytest.raises(SettingsError, match="CODEX_AUTH_LOGIN_LIMIT"):
        load_settings(AuthSettings, PREFIX, environ={"CODEX_AUTH_LOGIN_LIMIT": "lots"})
