"""The names `queue_prefix` hands out, and the removal of what tests leave on the broker.

A prefix reads `test-<session>-<test>.`: `<session>` is when this pytest session started (8 hex digits
of Unix time) and 4 random hex digits, shared by every prefix the session hands out; `<test>` is 6
random hex digits. Tests delete what their Bus declared, but a failed or killed test leaves queues
behind, and a quorum queue costs the broker memory and disk for good.

So at the end of a session that handed out prefixes, where `rabbitmqctl` can speak to the broker
(it is on PATH, runs as root or the rabbitmq user, and AMQP_URL is this machine), the queues and
exchanges of the AMQP URL's vhost are listed once and, over one AMQP connection, deleted:

- this session's (their name starts with `test-<session>-`);
- other sessions' that started more than `STALE_AFTER` ago: runs that were killed before their end.
  A younger session may still be running (another checkout, another xdist worker): never touched;
- those named by the pattern used before session tokens, `test-<8 hex digits>.`, whatever their age.

Deleting by pattern is safe because only tests name anything `test-...`: services take their
prefix from `CODEX_<SERVICE>_BUS_PREFIX`, empty outside tests.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "SESSION_TOKEN",
    "STALE_AFTER",
    "Leftovers",
    "delete_leftovers",
    "delete_prefixed",
    "is_leftover",
    "new_queue_prefix",
]

STALE_AFTER = timedelta(hours=6)
"""How old another session must be before its names count as left behind (no session runs that long)."""

SESSION_TOKEN = f"{int(time.time()):08x}{secrets.token_hex(2)}"
"""Shared by every prefix this pytest session hands out: when it started, and a random part."""

_NAME = re.compile(r"test-(?:(?P<started>[0-9a-f]{8})[0-9a-f]{4}-[0-9a-f]{6}|[0-9a-f]{8})\.")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_brokers: set[str] = set()  # the AMQP URLs this session handed out prefixes on
_management_unreachable: set[str] = set()


def new_queue_prefix(amqp_url: str) -> str:
    """A fresh prefix of this session for names on the broker at `amqp_url`: `test-66a1f0c2b7e1-3f9a1c.`."""
    _brokers.add(amqp_url)
    return f"test-{SESSION_TOKEN}-{secrets.token_hex(3)}."


def is_leftover(name: str, *, now: float | None = None) -> bool:
    """Whether `name` is this session's, a stale session's or of the pre-token pattern (see above)."""
    if name.startswith(f"test-{SESSION_TOKEN}-"):
        return True
    match = _NAME.match(name)
    if match is None:
        return False
    started = match["started"]
    if started is None:
        return True  # the pattern of before session tokens
    age = (time.time() if now is None else now) - int(started, 16)
    return age > STALE_AFTER.total_seconds()


@dataclass(frozen=True)
class Leftovers:
    """Names on a broker's vhost."""

    queues: list[str]
    exchanges: list[str]


def delete_leftovers() -> Leftovers | None:
    """At the end of a session: delete its names and stale ones (see above) on each broker it used.

    Returns what was deleted, or None where no broker's names could be listed (no `rabbitmqctl`,
    not allowed, or a broker elsewhere).
    """
    deleted: Leftovers | None = None
    for amqp_url in sorted(_brokers):
        listed = _list_names(amqp_url)
        if listed is None:
            continue
        leftovers = Leftovers(
            queues=[name for name in listed.queues if is_leftover(name)],
            exchanges=[name for name in listed.exchanges if is_leftover(name)],
        )
        if leftovers.queues or leftovers.exchanges:
            # A loop of its own: pytest-asyncio's loops are closed by the end of the session.
            loop = asyncio.new_event_loop()
            try:
                if not loop.run_until_complete(_delete(amqp_url, leftovers)):
                    continue
            finally:
                loop.close()
        deleted = Leftovers(
            queues=[*(deleted.queues if deleted else []), *leftovers.queues],
            exchanges=[*(deleted.exchanges if deleted else []), *leftovers.exchanges],
        )
    return deleted


def _list_names(amqp_url: str) -> Leftovers | None:
    """The queues and exchanges of the URL's vhost, by `rabbitmqctl` (one call each), or None."""
    parts = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or (parts.hostname or "127.0.0.1") not in _LOCAL_HOSTS:
        return None
    vhost = unquote(parts.path[1:]) or "/"
    listed: list[list[str]] = []
    for command in ("list_queues", "list_exchanges"):
        try:
            result = subprocess.run(
                ["rabbitmqctl", "-q", command, "-p", vhost, "--no-table-headers", "name"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            # Not allowed (no root, no Erlang cookie) or no local node: the broker keeps them.
            return None
        listed.append([line.strip() for line in result.stdout.splitlines() if line.strip()])
    return Leftovers(queues=listed[0], exchanges=listed[1])


async def _delete(amqp_url: str, names: Leftovers) -> bool:
    """Delete `names` over one connection; False when the broker cannot be reached."""
    import aio_pika

    try:
        connection = await aio_pika.connect(
            amqp_url, client_properties={"connection_name": "codex-test-cleanup"}
        )
    except (OSError, aio_pika.exceptions.AMQPError):
        return False  # the broker went away: its names wait for a later session's end
    async with connection:
        channel = await connection.channel()
        for delete, batch in (("queue_delete", names.queues), ("exchange_delete", names.exchanges)):
            for name in batch:
                try:
                    await getattr(channel, delete)(name)
                except aio_pika.exceptions.AMQPError:
                    # An exclusive queue of a live connection, say: the broker closed the channel.
                    channel = await connection.channel()
    return True


def delete_prefixed(amqp_url: str, prefix: str) -> None:
    """Delete the queues and exchanges whose names start with `prefix`, through the RabbitMQ
    management API when one answers (`RABBITMQ_MANAGEMENT_URL`, default port 15672 on the AMQP host)."""
    import httpx

    parts = urlsplit(amqp_url)
    base = os.environ.get("RABBITMQ_MANAGEMENT_URL") or f"http://{parts.hostname or '127.0.0.1'}:15672"
    vhost = quote(unquote(parts.path[1:]) or "/", safe="")
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    if base in _management_unreachable:
        return
    try:
        with httpx.Client(base_url=base, auth=auth, timeout=5) as client:
            for kind in ("queues", "exchanges"):
                response = client.get(f"/api/{kind}/{vhost}", params={"columns": "name"})
                response.raise_for_status()
                for item in response.json():
                    if item["name"].startswith(prefix):
                        client.delete(f"/api/{kind}/{vhost}/{quote(item['name'], safe='')}")
    except httpx.HTTPError:
        # No management API here: the names wait for the session's end (delete_leftovers); do not
        # wait for the API again after every test.
        _management_unreachable.add(base)
