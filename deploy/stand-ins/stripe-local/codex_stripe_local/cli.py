"""`python -m codex_stripe_local.cli serve` runs the stand-in (never in production: the settings refuse)."""

from __future__ import annotations

import argparse
import sys

from codex_platform.settings import SettingsError
from codex_stripe_local.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codex-stripe-local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Stripe-compatible API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except (SettingsError, ValueError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = settings.with_overrides(**overrides)

    import uvicorn

    from codex_platform.logging import configure_logging_from
    from codex_stripe_local.app import create_app

    configure_logging_from(settings, "stripe-local")
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
