"""`python -m codex_runpod_local.cli serve` runs the endpoint (and its workers);
`worker-env` prints the environment that points an externally started worker (compose) at it."""

from __future__ import annotations

import argparse
import shlex
import socket
import sys

from codex_platform.settings import SettingsError
from codex_runpod_local.settings import Settings
from codex_runpod_local.workers import worker_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codex-runpod-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the endpoint and start its workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="worker processes to start (default: settings)")
    env = commands.add_parser("worker-env", help="print the env of a worker that polls this endpoint")
    env.add_argument("--worker-id", default="local-worker-1")
    env.add_argument("--endpoint", help="endpoint id (default: the served one)")
    env.add_argument("--public-url", help="the URL the worker reaches this server at")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "worker-env":
        if args.public_url:
            settings = settings.with_overrides(public_url=args.public_url)
        for name, value in worker_env(settings, args.worker_id, args.endpoint).items():
            print(f"{name}={shlex.quote(value)}")
        return 0

    overrides = {
        k: v
        for k, v in {"host": args.host, "port": args.port, "workers": args.workers}.items()
        if v is not None
    }
    settings = settings.with_overrides(**overrides)
    return serve_forever(settings)


def serve_forever(settings: Settings) -> int:
    import uvicorn

    from codex_platform.logging import configure_logging_from
    from codex_runpod_local.app import create_app

    configure_logging_from(settings, "runpod-local")
    app = create_app(settings)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # Stop the workers while the port still answers: the SDK's loop retries a refused
            # connection at once, without pause, so it must be gone before the socket closes.
            app.state.pool.signal_stop()
            app.state.endpoints.close()
            await app.state.pool.stop()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,  # held polls were released above; nothing else is long
    )
    Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
