"""Dead-letter operations on a deep queue: time, and memory that must not grow with the queue.

    python tests/bench/dlq.py                    # 100,000 dead letters of 1 KB (minutes on 2 cores)
    python tests/bench/dlq.py --count 20000      # quicker; compare two counts: the peaks stay flat

Plants `--count` dead letters (as the consumer writes them) into a fresh dead-letter queue, then
runs stats, list (the newest 50), export and replay --all through `DeadLetterQueue` with the
default window, printing for each: seconds, messages a second, the process's peak RSS so far,
the most messages in flight (unacked, in memory) and the fewest ready in the queue(s) seen by an
observer while it ran (all but a window, where holding the queue would show 0). Its queues are
deleted at the end. A program, not a test: it prints figures and never fails on a time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "bus"))

from dlq_support import declare, plant

from codex_bus import Bus, DeadLetterQueue, Topology


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def ready(bus: Bus, queue: str) -> int:
    channel = await bus.connection.channel()
    try:
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0
    finally:
        await channel.close()


async def measure(
    bus: Bus,
    label: str,
    count: int,
    queues: list[str],
    operation: Callable[[], Awaitable[Any]],
    dlq: DeadLetterQueue,
) -> None:
    lowest = [count]
    done = asyncio.Event()

    async def observe() -> None:
        while not done.is_set():
            total = 0
            for queue in queues:
                total += await ready(bus, queue)
            lowest[0] = min(lowest[0], total)
            await asyncio.sleep(0.05)

    observer = asyncio.create_task(observe())
    started = time.monotonic()
    await operation()
    elapsed = time.monotonic() - started
    done.set()
    await observer
    in_flight = dlq.last_pass.peak_in_flight if dlq.last_pass else 0
    print(
        f"{label:<8} {elapsed:7.1f} s {count / elapsed:8,.0f} msg/s   peak RSS {rss_mib():6.1f} MiB   "
        f"in flight <= {in_flight:4}   fewest ready {lowest[0]:,} of {count:,}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--body", type=int, default=1024, help="bytes of padding per body")
    parser.add_argument("--window", type=int, default=100)
    args = parser.parse_args()
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    prefix = f"bench-dlq-{uuid.uuid4().hex[:8]}."
    async with Bus(url, topology=Topology(prefix=prefix), name="bench-dlq") as bus:
        try:
            source = await declare(bus, f"{prefix}catalog", quorum=True)
            name = await declare(bus, f"{prefix}catalog.dlq")
            print(
                f"planting {args.count:,} dead letters of {args.body:,} B; RSS {rss_mib():.1f} MiB",
                flush=True,
            )
            started = time.monotonic()
            for start in range(0, args.count, 10_000):  # in slices: the planting must not be what grows
                specs = [
                    {"message_id": str(uuid.uuid4()), "fingerprint": f"{n % 7:016x}", "age_s": args.count - n}
                    for n in range(start, min(start + 10_000, args.count))
                ]
                await plant(bus, name, specs, source=source, body_bytes=args.body)
            print(f"planted in {time.monotonic() - started:.1f} s; RSS {rss_mib():.1f} MiB", flush=True)
            dlq = DeadLetterQueue(bus, name, window=args.window)
            with tempfile.TemporaryDirectory() as tmp:
                await measure(bus, "stats", args.count, [name], dlq.stats, dlq)
                await measure(bus, "list", args.count, [name], lambda: dlq.browse(limit=50), dlq)
                await measure(
                    bus, "export", args.count, [name], lambda: dlq.export(Path(tmp) / "d.jsonl"), dlq
                )
            await measure(
                bus, "replay", args.count, [name, source], lambda: dlq.replay(all=True, preview=50), dlq
            )
        finally:
            channel = await bus.connection.channel()
            for queue in sorted(bus.declared.queues):
                await channel.queue_delete(queue)
            await channel.close()


if __name__ == "__main__":
    # The replay's audit lines would print every id: keep the figures readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main())
