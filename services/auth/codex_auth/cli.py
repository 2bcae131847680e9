"""`python -m codex_auth.cli serve | worker | migrate | create-admin | rotate-keys`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from codex_auth.bootstrap import bootstrap
from codex_auth.commands import CreateAdmin
from codex_auth.domain import DomainError
from codex_auth.handlers import create_admin
from codex_auth.settings import AuthSettings
from codex_bus import service_cli
from codex_platform.service_cli import Command, ServiceCli

ADMIN_PASSWORD_VARIABLE = "CODEX_AUTH_ADMIN_PASSWORD"  # noqa: S105 (the variable's name)


def _admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True)
    parser.add_argument("--display-name", default="Administrator")


def _admin_password() -> str:
    # Never an argument: a command line is visible to every user of the machine (ps) and in history.
    password = os.environ.get(ADMIN_PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass("Password for the admin: ")
    return sys.stdin.readline().rstrip("\n")


async def _create_admin(settings: AuthSettings, args: argparse.Namespace) -> int:
    """Create the first admin, or make an existing account admin."""
    password = _admin_password()
    async with bootstrap(settings) as deps:
        try:
            user, created = await create_admin(
                CreateAdmin(args.email, password, args.display_name), deps=deps
            )
        except DomainError as exc:
            print(f"create-admin: {exc}", file=sys.stderr)
            return 1
    print(f"{'created' if created else 'promoted'} admin {user.email} (id {user.id})")
    return 0


async def _rotate_keys(settings: AuthSettings, args: argparse.Namespace) -> int:
    async with bootstrap(settings) as deps:
        await deps.keys.signing_key()  # a first key exists before it is rotated out
        kid = await deps.keys.rotate()
    lead, grace = int(deps.keys.lead.total_seconds()), int(deps.keys.grace.total_seconds())
    print(
        f"new signing key {kid}: published now, signs in {lead} s; the previous key signs until "
        f"then and stays published {grace} s after"
    )
    return 0


# Auth publishes events (its outbox) and consumes none.
CLI: ServiceCli[AuthSettings] = service_cli(
    AuthSettings,
    "codex_auth",
    bootstrap,
    commands={
        "create-admin": Command(
            f"create the first admin (password from {ADMIN_PASSWORD_VARIABLE} or stdin)",
            _create_admin,
            _admin_arguments,
        ),
        "rotate-keys": Command(
            "publish a new signing key (it signs once every replica knows it); the old one verifies "
            "until its tokens expire",
            _rotate_keys,
        ),
    },
)

if __name__ == "__main__":
    sys.exit(CLI.main())
