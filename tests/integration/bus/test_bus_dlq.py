"""Items 4 and 7 of the bus issue: dead letters and the `codex-dlq` CLI (run as a real process)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from bus_support import Recorder, archived, depth_is, eventually, fail_by_kind, queue_depth
from dlq_support import cli as cli_process
from dlq_support import cli_here

from codex_bus import Bus, Consumer, ConsumerSettings, DeadLetterQueue, MessageBatch, subscribe
from codex_contracts.events import ContentArchivedV1

FAIL_FAST = ConsumerSettings(max_batch_timeout=0.1, max_retries=0)


async def dead_letter(bus: Bus, content_ids: list[str]) -> tuple[Consumer, dict[str, str]]:
    """Send these events to a consumer that fails each once for good; returns it and id by content."""
    consumer = bus.consumer("catalog", [subscribe(ContentArchivedV1, fail_by_kind)], FAIL_FAST)
    async with consumer:
        before = await queue_depth(bus, consumer.dead_letter_queue)
        envelopes = await bus.producer(source="t").send_batch([archived(c) for c in content_ids])
        await eventually(lambda: depth_is(bus, consumer.dead_letter_queue, before + len(content_ids)))
    return consumer, {e.data.content_id: e.id for e in envelopes}  # type: ignore[attr-defined]


async def cli(amqp_url: str, *args: str) -> tuple[int, str]:
    """Run `codex-dlq` (in this process: tests/integration/bus/test_dlq_cli.py runs it as one);
    returns its exit status and output (stdout, then stderr)."""
    run = await cli_here(amqp_url, *args)
    return run.status, run.out + run.err


async def test_a_replayed_dead_letter_is_handled(bus: Bus, amqp_url: str) -> None:
    consumer, ids = await dead_letter(bus, ["flaky"])
    headers_seen: list[dict[str, object]] = []

    async def handle(batch: MessageBatch[ContentArchivedV1]) -> None:
        headers_seen.extend(dict(m.raw.headers) for m in batch)

    recorder = Recorder(handle)
    async with bus.consumer("catalog", [subscribe(ContentArchivedV1, recorder)], FAIL_FAST):
        status, output = await cli(amqp_url, "replay", consumer.dead_letter_queue, "--id", ids["flaky"])
        assert status == 0, output
        assert "replayed 1" in output
        [delivery] = await recorder.wait_for(1)
    assert delivery.id == ids["flaky"]  # the id is kept, so an inbox recognises it
    assert delivery.attempts == 1  # attempts start again
    assert headers_seen[0]["codex-replays"] == 1
    assert "codex-error-type" not in headers_seen[0]
    assert await queue_depth(bus, consumer.dead_letter_queue) == 0


async def test_replay_by_fingerprint_moves_only_that_group(bus: Bus, amqp_url: str) -> None:
    consumer, _ = await dead_letter(bus, ["key-1", "key-2", "value-1"])
    groups = await DeadLetterQueue(bus, consumer.dead_letter_queue).stats()
    assert [(g.count, g.error_type) for g in groups] == [(2, "KeyError"), (1, "ValueError")]

    status, output = await cli(amqp_url, "stats", consumer.dead_letter_queue)
    assert status == 0, output
    assert (
        groups[0].fingerprint in output and "KeyError" in output and "catalog.content.archived.v1" in output
    )

    status, output = await cli(
        amqp_url, "replay", consumer.dead_letter_queue, "--fingerprint", groups[0].fingerprint
    )
    assert status == 0, output
    assert await queue_depth(bus, consumer.queue) == 2
    [left] = await DeadLetterQueue(bus, consumer.dead_letter_queue).browse()
    assert left.error_type == "ValueError"


async def test_a_dry_run_moves_nothing(bus: Bus, amqp_url: str) -> None:
    consumer, ids = await dead_letter(bus, ["key-1", "value-1", "value-2"])
    status, output = await cli(amqp_url, "replay", consumer.dead_letter_queue, "--all", "--dry-run")
    assert status == 0, output
    assert "would replay 3" in output
    assert all(message_id in output for message_id in ids.values())
    assert await queue_depth(bus, consumer.dead_letter_queue) == 3
    assert await queue_depth(bus, consumer.queue) == 0


async def test_replay_keeps_to_its_rate(bus: Bus, amqp_url: str) -> None:
    consumer, _ = await dead_letter(bus, [f"value-{i}" for i in range(6)])
    started = time.monotonic()
    report = await DeadLetterQueue(bus, consumer.dead_letter_queue).replay(all=True, rate=10)
    assert time.monotonic() - started >= 0.45  # 6 messages at 10/s: the last leaves 0.5 s in
    assert report.moved == 6
    assert await queue_depth(bus, consumer.queue) == 6


async def test_export_then_purge_leaves_the_file_complete(bus: Bus, amqp_url: str, tmp_path: Path) -> None:
    consumer, ids = await dead_letter(bus, ["key-1", "value-1", "value-2", "value-3"])
    out = tmp_path / "dead.jsonl"
    status, output = await cli(amqp_url, "export", consumer.dead_letter_queue, "--out", str(out))
    assert status == 0, output
    assert await queue_depth(bus, consumer.dead_letter_queue) == 4  # export removes nothing

    refused = await cli_process(amqp_url, "purge", consumer.dead_letter_queue)
    assert refused.status == 1 and "--yes" in refused.err  # no terminal to ask on: refuses
    status, output = await cli(amqp_url, "purge", consumer.dead_letter_queue, "--yes")
    assert status == 0 and "purged 4" in output, output
    assert await queue_depth(bus, consumer.dead_letter_queue) == 0

    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["message_id"] for r in records) == sorted(ids.values())
    for record in records:
        assert record["body"]["data"]["content_id"] in ids
        assert record["source_queue"] == consumer.queue
        assert record["error_type"] in ("KeyError", "ValueError")
        assert record["fingerprint"] and record["first_failure_at"] and record["attempts"] == 1
        assert record["headers"]["codex-routing-key"] == "catalog.content.archived.v1"


async def test_list_filters_newest_first_and_show_tells_all(bus: Bus, amqp_url: str) -> None:
    consumer, ids = await dead_letter(bus, ["key-1"])
    await asyncio.sleep(0.05)
    later, more = await dead_letter(bus, ["value-1"])
    ids.update(more)
    dlq = consumer.dead_letter_queue
    assert later.dead_letter_queue == dlq

    letters = await DeadLetterQueue(bus, dlq).browse()
    assert [d.message_id for d in letters] == [ids["value-1"], ids["key-1"]]
    status, output = await cli(amqp_url, "list", dlq, "--fingerprint", letters[1].fingerprint)
    assert status == 0, output
    assert ids["key-1"] in output and ids["value-1"] not in output
    status, output = await cli(amqp_url, "list", dlq, "--type", "no.such.type.v1")
    assert "0 dead letters" in output
    status, output = await cli(amqp_url, "list", dlq, "--since", "1h")
    assert ids["key-1"] in output and ids["value-1"] in output
    status, output = await cli(amqp_url, "list", dlq, "--until", "1h")
    assert "0 dead letters" in output

    status, output = await cli(amqp_url, "show", dlq, ids["key-1"])
    assert status == 0, output
    shown = json.loads(output)
    assert shown["error_type"] == "KeyError" and shown["error_message"] == "'key-1'"
    assert shown["body"]["data"]["content_id"] == "key-1"
    assert shown["headers"]["codex-source-queue"] == consumer.queue
    assert await queue_depth(bus, dlq) == 2  # looking removes nothing

    status, output = await cli(amqp_url, "show", "no-such-queue.dlq", "x")
    assert status == 1 and "no queue named" in output
