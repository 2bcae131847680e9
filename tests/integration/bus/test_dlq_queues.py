"""`codex-dlq queues` and the dead-letter gauges, on the dead-letter queues of three services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial

from bus_support import archived, depth_is, eventually
from dlq_support import cli, cli_here
from prometheus_client import REGISTRY

from codex_bus import Bus, ConsumerSettings, DeadLetterQueue, MessageBatch, subscribe
from codex_bus.dlq_gauges import watch_dead_letters
from codex_contracts.events import ContentArchivedV1

FAIL_FAST = ConsumerSettings(max_batch_timeout=0.1, max_retries=0)


def failing(prefixes: tuple[str, ...]) -> Callable[[MessageBatch[ContentArchivedV1]], Awaitable[None]]:
    """A handler that fails for good the events whose content id starts with one of `prefixes`."""

    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        for m in batch:
            kind = m.body.content_id.split("-")[0]
            if kind in prefixes:
                try:
                    raise (KeyError if kind == "key" else ValueError)(m.body.content_id)
                except Exception:
                    m.retry()

    return handle


async def three_services(bus: Bus) -> dict[str, str]:
    """catalog, purchase and upload all take the same three events; catalog fails all three (two
    causes), purchase the two `key` ones, upload the `value` one. Returns each dead-letter queue."""
    handlers = {"catalog": ("key", "value"), "purchase": ("key",), "upload": ("value",)}
    consumers = [
        bus.consumer(name, [subscribe(ContentArchivedV1, failing(kinds))], FAIL_FAST)
        for name, kinds in handlers.items()
    ]
    for consumer in consumers:
        await consumer.start()
    try:
        await bus.producer(source="t").send_batch([archived("key-1"), archived("key-2"), archived("value-1")])
        for consumer, expected in zip(consumers, (3, 2, 1), strict=True):
            await eventually(partial(depth_is, bus, consumer.dead_letter_queue, expected))
    finally:
        for consumer in consumers:
            await consumer.stop()
    return {name: c.dead_letter_queue for name, c in zip(handlers, consumers, strict=True)}


async def test_queues_shows_every_dead_letter_queue_of_the_prefix(
    bus: Bus, amqp_url: str, queue_prefix: str
) -> None:
    dlqs = await three_services(bus)

    listed = await cli_here(amqp_url, "queues", "--prefix", queue_prefix, "-o", "json")
    assert listed.status == 0, listed.err
    document = json.loads(listed.out)
    found = {item["queue"]: item for item in document["items"]}
    assert {q: (found[q]["depth"], found[q]["groups"]) for q in found} == {
        dlqs["catalog"]: (3, 2),
        dlqs["purchase"]: (2, 1),
        dlqs["upload"]: (1, 1),
    }
    assert all(
        0 <= item["oldest_age_seconds"] < 60 and item["oldest_dead_lettered_at"] for item in found.values()
    )
    assert sorted(document["absent"]) == sorted(f"{queue_prefix}{s}.dlq" for s in ("auth", "media-dispatch"))

    table = await cli(amqp_url, "queues", "--prefix", queue_prefix, columns=80)
    assert table.status == 0, table.err
    rows = {
        line.split()[0]: line.split()[1:] for line in table.out.splitlines() if line.startswith(queue_prefix)
    }
    assert {q: (r[0], r[2]) for q, r in rows.items()} == {
        dlqs["catalog"]: ("3", "2"),
        dlqs["purchase"]: ("2", "1"),
        dlqs["upload"]: ("1", "1"),
    }
    assert "6 dead letters in 3 dead-letter queue(s)" in table.out

    # Named queues instead of the suite's, and a shallow threshold: groups then go uncounted.
    named = await cli_here(
        amqp_url,
        "queues",
        "--prefix",
        queue_prefix,
        "--queue",
        "catalog",
        "--groups-up-to",
        "2",
        "-o",
        "jsonl",
    )
    [catalog] = [json.loads(line) for line in named.out.splitlines()]
    assert catalog["queue"] == dlqs["catalog"] and catalog["depth"] == 3 and catalog["groups"] is None


def sample(name: str, queue: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"queue": queue})


async def test_gauges_follow_a_dead_letter_and_its_replay(bus: Bus, queue_prefix: str) -> None:
    catalog = bus.consumer("catalog", [subscribe(ContentArchivedV1, failing(("key",)))], FAIL_FAST)
    dlq = catalog.dead_letter_queue
    unstarted = f"{queue_prefix}nobody.dlq"
    watcher = asyncio.create_task(watch_dead_letters(bus, [dlq, unstarted], interval_s=0.1))
    try:
        async with catalog:
            await eventually(lambda: _is(sample("codex_bus_dead_letter_depth", dlq), 0))
            assert sample("codex_bus_dead_letter_oldest_age_seconds", dlq) == 0
            await bus.producer(source="t").send_batch([archived("key-1"), archived("key-2")])
            await eventually(lambda: _is(sample("codex_bus_dead_letter_depth", dlq), 2))
            await eventually(lambda: _above(sample("codex_bus_dead_letter_oldest_age_seconds", dlq), 1.0))
            assert sample("codex_bus_dead_letter_depth", unstarted) is None  # absent, not a false 0

        # Replayed into a consumer that now succeeds: the queue empties and the gauges fall to 0.
        async with bus.consumer("catalog", [subscribe(ContentArchivedV1, failing(()))], FAIL_FAST) as fixed:
            report = await DeadLetterQueue(bus, dlq).replay(all=True)
            assert report.moved == 2
            await eventually(lambda: _is(sample("codex_bus_dead_letter_depth", dlq), 0))
            assert sample("codex_bus_dead_letter_oldest_age_seconds", dlq) == 0
            await eventually(lambda: depth_is(bus, fixed.queue, 0))
        assert not watcher.done()  # it runs until cancelled, as run_worker requires of a task
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _is(value: float | None, expected: float) -> bool:
    return value == expected


async def _above(value: float | None, floor: float) -> bool:
    return value is not None and value > floor
