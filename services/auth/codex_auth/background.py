"""Work done after the answer has gone: what would otherwise make a response slower (or its
timing tell something) when an account exists, such as writing a mailed link's token."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

_log = structlog.get_logger("codex.auth.background")


class Background:
    """Run coroutines after the caller moves on; `drain()` waits for them, failures are logged."""

    def __init__(self) -> None:
        self._in_flight: set[asyncio.Task[None]] = set()

    def run_soon(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(name, work))
        # The loop keeps only weak references to tasks: hold each one until it is done.
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _run(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception as exc:
            _log.error("background_work_failed", work=name, error_type=type(exc).__name__, error=str(exc))

    async def drain(self) -> None:
        """Wait until every piece of work handed over so far has finished."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)
