"""The shared service command line: parsing, the service's own commands, workers and signals."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import pytest

from codex_platform.db import MigrationSource
from codex_platform.service_cli import Command, ServiceCli, run_until_signalled
from codex_platform.settings import BaseSettings


class DemoSettings(BaseSettings, frozen=True, kw_only=True):
    port: int = 8999


def make_cli(**overrides: Any) -> ServiceCli[DemoSettings]:
    values: dict[str, Any] = {
        "service": "demo-svc",
        "load_settings": DemoSettings,
        "app_factory": "demo:create_app",
        "schema": lambda settings: "demo",
        "migrations": [MigrationSource("demo", "codex_platform")],
    }
    values.update(overrides)
    return ServiceCli(**values)


def test_a_service_command_runs_with_the_settings_and_its_arguments() -> None:
    seen: list[tuple[DemoSettings, argparse.Namespace]] = []

    def greet(settings: DemoSettings, args: argparse.Namespace) -> int:
        seen.append((settings, args))
        return 7

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", required=True)

    cli = make_cli(commands={"greet": Command("say hello", greet, arguments)})
    assert cli.main(["greet", "--name", "ada"]) == 7
    [(settings, args)] = seen
    assert settings.port == 8999 and args.name == "ada"


def test_an_async_command_is_awaited() -> None:
    async def count(settings: DemoSettings, args: argparse.Namespace) -> int:
        await asyncio.sleep(0)
        return 3

    assert make_cli(commands={"count": Command("count", count)}).main(["count"]) == 3


def test_a_service_without_worker_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert make_cli().main(["worker"]) == 2
    assert "demo-svc has no worker" in capsys.readouterr().err


def test_unknown_commands_are_usage_errors() -> None:
    with pytest.raises(SystemExit) as exited:
        make_cli().main(["dance"])
    assert exited.value.code == 2


def test_the_worker_runs_until_sigterm() -> None:
    stopped: list[bool] = []

    async def worker(settings: DemoSettings) -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(True)

    assert make_cli(worker=worker).main(["worker"]) == 0
    assert stopped == [True]  # cancelled, so its clean-up ran


async def test_a_worker_that_returns_ends_with_status_zero() -> None:
    async def brief() -> None:
        await asyncio.sleep(0)

    assert await run_until_signalled(brief()) == 0
