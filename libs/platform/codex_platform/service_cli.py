"""The command line every service has: `serve`, `worker`, `migrate`, plus its own admin commands.

A service's cli.py describes itself and hands over, so that all five services start the same way
(`python -m codex_<service>.cli serve|worker|migrate`, what `make dev`, compose and the Dockerfile run):

    SERVICE = ServiceCli(
        service="auth",
        load_settings=settings.load,
        app_factory="codex_auth.app:create_app",
        schema=lambda s: s.db_schema,
        migrations=[BUS_MIGRATIONS, MigrationSource("auth", "codex_auth.migrations")],
        worker=bootstrap.run_worker,
        commands={"rotate-keys": Command("Rotate the signing key", rotate_keys)},
    )

    if __name__ == "__main__":
        sys.exit(SERVICE.main())
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

from codex_platform.db import MigrationSource, run_migrations
from codex_platform.logging import configure_logging_from
from codex_platform.settings import BaseSettings

__all__ = ["Command", "ServiceCli", "announce_configuration", "run_until_signalled"]

S = TypeVar("S", bound=BaseSettings)

_log = structlog.get_logger("codex.cli")


@dataclass(frozen=True)
class Command(Generic[S]):
    """A service's own command: `run(settings, args)` returns an exit status (sync or async)."""

    help: str
    run: Callable[[S, argparse.Namespace], int | Awaitable[int]]
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@dataclass(frozen=True)
class ServiceCli(Generic[S]):
    """What `serve`, `worker` and `migrate` need to know about one service.

    `app_factory` is uvicorn's import string of a no-argument factory (`module:function`), so that
    `--workers N` can import it in each process. `worker(settings)` runs until cancelled (SIGTERM or
    SIGINT cancel it); a service with nothing to run in the background leaves it None.
    """

    service: str
    load_settings: Callable[[], S]
    app_factory: str
    schema: Callable[[S], str]
    migrations: Sequence[MigrationSource]
    worker: Callable[[S], Awaitable[None]] | None = None
    commands: Mapping[str, Command[S]] = field(default_factory=dict)

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Parse `argv` (default: the process's), run the command, return its exit status."""
        args = self._parser().parse_args(argv)
        settings = self.load_settings()
        configure_logging_from(settings, self.service)
        if args.command in ("serve", "worker"):
            announce_configuration(self.service, settings)
        if args.command == "serve":
            return self._serve(settings, args)
        if args.command == "worker":
            if self.worker is None:
                print(f"{self.service} has no worker", file=sys.stderr)
                return 2
            return asyncio.run(run_until_signalled(self.worker(settings)))
        if args.command == "migrate":
            if not self.migrations:
                print(f"{self.service} keeps no database: nothing to migrate")
                return 0
            return run_migrations(
                settings.database_url, schema=self.schema(settings), sources=self.migrations
            )
        result = self.commands[args.command].run(settings, args)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    def _parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=f"python -m codex_{self.service.replace('-', '_')}.cli")
        commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        serve = commands.add_parser("serve", help="serve the HTTP API with uvicorn")
        serve.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
        serve.add_argument("--port", type=int, help="port to bind (default: PORT or the service's own)")
        serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        commands.add_parser("worker", help="publish the outbox and run the event consumers")
        commands.add_parser("migrate", help="apply pending database migrations")
        for name, command in self.commands.items():
            command.arguments(commands.add_parser(name, help=command.help))
        return parser

    def _serve(self, settings: S, args: argparse.Namespace) -> int:
        import uvicorn

        options: dict[str, Any] = {
            "factory": True,
            "host": args.host or settings.host,
            "port": args.port or settings.port,
            # Logging is configure_logging's; uvicorn's own config would replace its handlers.
            "log_config": None,
            # The app factory's middleware writes one access line per request (with its request id).
            "access_log": False,
            # The client address comes from X-Forwarded-For only when the peer is a proxy listed
            # in FORWARDED_ALLOW_IPS (addresses or CIDR networks; uvicorn's default: 127.0.0.1), so
            # clients cannot forge it: behind a gateway, list the gateway's address or network.
            "proxy_headers": True,
            "server_header": False,
            # Longer than clients keep idle connections (aiohttp 15 s, proxies 60 s): a server that
            # closes first races a client reusing the connection, whose request then fails with
            # "Server disconnected" (the RunPod SDK's worker lost a job's result that way).
            "timeout_keep_alive": 75,
        }
        if args.workers > 1:
            uvicorn.run(self.app_factory, workers=args.workers, **options)
            return 0
        _DrainingServer(uvicorn.Config(self.app_factory, **options)).run()
        return 0


def _litestar_app(app: Any) -> Any:
    """The Litestar app under uvicorn's middleware wrappers (each keeps the next in `.app`)."""
    for _ in range(10):
        if hasattr(app, "state") and hasattr(app, "route_handler_method_map"):
            return app
        app = getattr(app, "app", None)
    return None


def _draining_server_class() -> type[Any]:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """Runs the app's `state.drain` (see codex_platform.service) when shutdown begins, while the
        port still answers: a service whose clients poll it (runpod-local's workers) stops them first,
        since they would otherwise retry a refused connection in a tight loop until the lifespan ends."""

        async def shutdown(self, sockets: Any = None) -> None:
            app = _litestar_app(self.config.loaded_app)
            drain = app.state.get("drain") if app is not None else None
            if drain is not None:
                await drain()
            await super().shutdown(sockets)

    return DrainingServer


def _DrainingServer(config: Any) -> Any:
    return _draining_server_class()(config)


def announce_configuration(service: str, settings: BaseSettings) -> None:
    """Outside production, say in one line that this is a development configuration and which
    development-only defaults it took, so that nobody runs one by accident without being told."""
    if settings.environment == "production":
        return
    listed = getattr(settings, "development_defaults", None)
    defaults: list[str] = listed() if callable(listed) else []
    _log.warning(
        "development_configuration", service=service, environment=settings.environment, defaults=defaults
    )


async def _awaited(result: Awaitable[int]) -> int:
    return await result


async def run_until_signalled(work: Awaitable[None]) -> int:
    """Run `work` until it returns or SIGTERM/SIGINT arrives (then cancel it); exit status 0."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        _log.info("stopped_by_signal")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return 0
