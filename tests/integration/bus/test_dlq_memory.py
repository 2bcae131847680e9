"""Item 7 of the bus issue: dead-letter operations run in bounded memory, never holding the queue.

A queue of 800 dead letters of 8 KB goes through list, stats, export and replay with a window
of 20. While each runs, an observer on another channel watches the queue's ready count:
holding the queue (the first design) would drain it to 0 for the whole run; a bounded pass keeps
all but a window ready. tracemalloc bounds what the process itself allocates. (tests/bench/dlq.py
runs the same at 100,000 messages.)
"""

from __future__ import annotations

import asyncio
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from bus_support import queue_depth
from dlq_support import declare, plant

from codex_bus import Bus, DeadLetterQueue

COUNT = 800
BODY = 8192
WINDOW = 20
T = TypeVar("T")


@asynccontextmanager
async def lowest_ready(bus: Bus, *queues: str) -> AsyncIterator[list[int]]:
    """Polls the summed ready count of `queues` (in this order) while the block runs; yields the
    list whose single value is the lowest sum seen."""
    lowest = [COUNT * 10]
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():
            total = 0
            for queue in queues:  # a later queue read later can only have gained what the first lost
                total += await queue_depth(bus, queue)
            lowest[0] = min(lowest[0], total)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(poll())
    try:
        yield lowest
    finally:
        stop.set()
        await watcher


async def peak_bytes(operation: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """What `operation` returns, and the peak of what this process allocated while it ran."""
    tracemalloc.start()
    try:
        result = await operation()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_operations_on_a_deep_queue_hold_only_a_window(
    bus: Bus, queue_prefix: str, tmp_path: Path
) -> None:
    source = await declare(bus, f"{queue_prefix}catalog", quorum=True)
    name = await declare(bus, f"{queue_prefix}catalog.dlq")
    ids = [str(uuid.uuid4()) for _ in range(COUNT)]
    specs = [{"message_id": i, "fingerprint": f"{n % 4:016x}", "age_s": COUNT - n} for n, i in enumerate(ids)]
    await plant(bus, name, specs, source=source, body_bytes=BODY)
    dlq = DeadLetterQueue(bus, name, window=WINDOW)
    held_whole = COUNT * BODY  # what holding the queue would keep in memory, bodies alone

    async with lowest_ready(bus, name) as lowest:
        exported, export_peak = await peak_bytes(lambda: dlq.export(tmp_path / "dead.jsonl"))
        groups = await dlq.stats()
        newest = await dlq.browse(limit=10)
    assert exported == COUNT and len((tmp_path / "dead.jsonl").read_bytes().splitlines()) == COUNT
    assert sorted(g.count for g in groups) == [COUNT // 4] * 4
    assert [d.message_id for d in newest] == ids[::-1][:10]
    assert dlq.last_pass is not None and dlq.last_pass.peak_in_flight <= WINDOW
    assert lowest[0] >= COUNT - 2 * WINDOW, f"the queue drained to {lowest[0]} ready while being read"
    # (tracemalloc slows a pass threefold: export stands for the read-only passes, which share it)
    assert export_peak < held_whole / 4, f"peak {export_peak} bytes for {held_whole} bytes of bodies"
    # Read three times over, it is back in its order: the oldest at the head.
    assert await queue_depth(bus, name) == COUNT
    head = await dlq.oldest()
    assert head is not None and head.message_id == ids[0]

    async with lowest_ready(bus, name, source) as lowest:
        report, replay_peak = await peak_bytes(lambda: dlq.replay(all=True, preview=10))
    assert report.moved == report.selected == COUNT
    # Acked as their copies were confirmed: at every moment all but a window were in one queue or
    # the other, where holding until the end would have left nearly all of them unacked.
    assert lowest[0] >= COUNT - 2 * WINDOW, f"only {lowest[0]} ready in the two queues mid-replay"
    assert replay_peak < held_whole / 4
    assert await queue_depth(bus, name) == 0
    assert await queue_depth(bus, source) == COUNT
