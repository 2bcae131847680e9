"""Helpers of the dead-letter tests: `codex-dlq` run as a process (through a pipe, or on a real
pseudo-terminal of a given width), and dead letters planted as the consumer writes them."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import re
import struct
import sys
import termios
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from codex_bus import Bus
from codex_bus.dlq_cli import run

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Run:
    status: int
    out: str
    err: str


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "CODEX_DLQ_QUEUES")}
    env.update(TERM="xterm-256color", **(extra or {}))
    return env


async def cli(
    amqp_url: str, *args: str, columns: int | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run `codex-dlq`; stdout goes to a pipe, or with `columns` to a pseudo-terminal that wide."""
    command = [sys.executable, "-m", "codex_bus.dlq_cli", "--amqp-url", amqp_url, *args]
    if columns is None:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(env),
        )
        out, err = await process.communicate()
        return Run(await process.wait(), out.decode(), err.decode())
    return await asyncio.to_thread(_on_terminal, command, columns, _env(env))


async def cli_here(amqp_url: str, *args: str) -> Run:
    """`codex-dlq` in this process and event loop (quicker than a process: for what needs no
    terminal); its stdout and stderr are captured."""
    out, err = io.StringIO(), io.StringIO()
    status = await run([*("--amqp-url", amqp_url), *args], stdout=out, stderr=err)
    return Run(status, out.getvalue(), err.getvalue())


def _on_terminal(command: list[str], columns: int, env: dict[str, str]) -> Run:
    import subprocess

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=follower, stderr=subprocess.PIPE, env=env
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    err = process.stderr.read().decode() if process.stderr else ""
    status = process.wait(timeout=60)
    text = _ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")
    return Run(status, text, err)


async def declare(bus: Bus, name: str, *, quorum: bool = False) -> str:
    """A durable queue, deleted after the test with the rest of the Bus's names."""
    channel = await bus.connection.channel()
    try:
        await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"} if quorum else None
        )
    finally:
        await channel.close()
    bus.declared.queues.add(name)
    return name


async def plant(
    bus: Bus,
    dlq: str,
    letters: list[dict[str, Any]],
    *,
    source: str,
    body_bytes: int = 0,
) -> None:
    """Publish dead letters into `dlq` as the consumer writes them (codex-* headers), with confirms.

    Each dict may name message_id, fingerprint, error_type, error_message, event_type, reason,
    attempts and age_s (how long ago it was dead-lettered)."""
    channel = await bus.connection.channel(publisher_confirms=True)
    now = datetime.now(UTC)
    try:
        pending = []
        for n, spec in enumerate(letters):
            at = now - timedelta(seconds=spec.get("age_s", 60))
            event_type = spec.get("event_type", "catalog.content.archived.v1")
            headers = {
                "codex-attempts": spec.get("attempts", 4),
                "codex-error-type": spec.get("error_type", "KeyError"),
                "codex-error-message": spec.get("error_message", "'missing'"),
                "codex-error-location": "codex_catalog.handlers:grant_access:42",
                "codex-fingerprint": spec.get("fingerprint", "0123456789abcdef"),
                "codex-first-failure-at": (at - timedelta(seconds=5)).isoformat(),
                "codex-last-failure-at": at.isoformat(),
                "codex-dead-lettered-at": at.isoformat(),
                "codex-source-queue": source,
                "codex-routing-key": event_type,
                "codex-reason": spec.get("reason", "max_retries"),
            }
            body = b'{"n": %d, "pad": "%s"}' % (n, b"x" * body_bytes)
            message = aio_pika.Message(
                body,
                headers=headers,
                message_id=spec["message_id"],
                type=event_type,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            pending.append(channel.default_exchange.publish(message, routing_key=dlq, mandatory=True))
            if len(pending) >= 200:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await channel.close()
