"""`python -m codex_runpod_local.cli serve` runs the endpoint (and its workers: CODEX_RUNPOD_LOCAL_WORKERS);
`worker-env` prints the environment that points an externally started worker (compose) at it."""

from __future__ import annotations

import argparse
import shlex
import sys

from codex_platform.service_cli import Command, ServiceCli
from codex_runpod_local.settings import Settings
from codex_runpod_local.workers import worker_env


def _worker_env_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--worker-id", default="local-worker-1")
    parser.add_argument("--endpoint", help="endpoint id (default: the served one)")
    parser.add_argument("--public-url", help="the URL the worker reaches this server at")


def _worker_env(settings: Settings, args: argparse.Namespace) -> int:
    if args.public_url:
        settings = settings.with_overrides(public_url=args.public_url)
    for name, value in worker_env(settings, args.worker_id, args.endpoint).items():
        print(f"{name}={shlex.quote(value)}")
    return 0


# A stand-in with its state in memory: no database, no bus, so no migrations and no worker process.
CLI: ServiceCli[Settings] = ServiceCli(
    service=Settings.service,
    load_settings=Settings.load,
    app_factory="codex_runpod_local.app:create_app",
    schema=lambda settings: settings.db_schema,
    migrations=[],
    commands={
        "worker-env": Command(
            "print the env of a worker that polls this endpoint", _worker_env, _worker_env_arguments
        )
    },
)


def main(argv: list[str] | None = None) -> int:
    return CLI.main(argv)


if __name__ == "__main__":
    sys.exit(main())
