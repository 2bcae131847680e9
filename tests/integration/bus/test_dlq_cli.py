"""`codex-dlq` as an operator and a script meet it: an 80-column terminal, a pipe, JSON, short ids."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import structlog
from bus_support import queue_depth
from dlq_support import cli, cli_here, declare, plant

from codex_bus import Bus

LONG_ERROR = "'content 6b0e not found in the catalog projection yet: the asset may have come early'"


@pytest.fixture
async def letters(bus: Bus, queue_prefix: str) -> dict[str, Any]:
    """A dead-letter queue of three planted letters in two groups, ids sharing known prefixes."""
    source = await declare(bus, f"{queue_prefix}catalog", quorum=True)
    dlq = await declare(bus, f"{queue_prefix}catalog.dlq")
    ids = ["aaaa1111-" + str(uuid.uuid4())[9:], "aaaa2222-" + str(uuid.uuid4())[9:], str(uuid.uuid4())]
    fingerprints = ["9a3d324c0b1e2f77", "9a3d324c0b1e2f77", "5c0ffee5c0ffee51"]
    await plant(
        bus,
        dlq,
        [
            {
                "message_id": ids[0],
                "fingerprint": fingerprints[0],
                "error_message": LONG_ERROR,
                "age_s": 7200,
            },
            {"message_id": ids[1], "fingerprint": fingerprints[1], "error_message": LONG_ERROR, "age_s": 600},
            {
                "message_id": ids[2],
                "fingerprint": fingerprints[2],
                "error_type": "msgspec.ValidationError",
                "event_type": "purchase.purchase.completed.v1",
                "reason": "undecodable",
                "age_s": 30,
            },
        ],
        source=source,
    )
    return {"source": source, "dlq": dlq, "ids": ids, "fingerprints": fingerprints}


def assert_whole(text: str, values: list[str]) -> None:
    for value in values:
        assert re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text), f"{value} not whole in:\n{text}"


async def test_list_at_80_columns_keeps_ids_and_fingerprints_whole(
    amqp_url: str, letters: dict[str, Any]
) -> None:
    run = await cli(amqp_url, "list", letters["dlq"], columns=80)
    assert run.status == 0, run.err
    lines = run.out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), run.out
    assert_whole(run.out, letters["ids"] + letters["fingerprints"])
    assert "…" not in run.out.split("3 of 3")[0].replace(LONG_ERROR, "")  # nothing cut but error text
    assert lines[0].split()[:3] == ["ID", "FINGERPRINT", "AGE"]
    assert "ERROR" not in lines[0] and "-o wide" in run.out  # the error column dropped first, and says so
    # newest first: the 30 s old letter, then the 10 min, then the 2 h one
    order = [next(i for i, line in enumerate(lines) if line.startswith(m)) for m in reversed(letters["ids"])]
    assert order == sorted(order)

    wide = await cli(amqp_url, "list", letters["dlq"], "-o", "wide", columns=80)
    assert wide.status == 0, wide.err
    assert all(len(line.rstrip()) <= 80 for line in wide.out.splitlines()), wide.out
    assert_whole(wide.out, letters["ids"] + letters["fingerprints"] + [letters["source"]])
    for header in ("ERROR", "REASON", "ATTEMPTS", "SOURCE QUEUE", "LOCATION", "DEAD-LETTERED (UTC)"):
        assert header in wide.out
    assert " ".join(wide.out.split()).count("the asset may have come early'") == 2  # the error in full

    stats = await cli(amqp_url, "stats", letters["dlq"], columns=80)
    assert stats.status == 0, stats.err
    assert all(len(line.rstrip()) <= 80 for line in stats.out.splitlines()), stats.out
    assert_whole(stats.out, sorted(set(letters["fingerprints"])))


async def test_through_a_pipe_no_border_no_colour_one_line_a_letter(
    amqp_url: str, letters: dict[str, Any]
) -> None:
    run = await cli(amqp_url, "list", letters["dlq"])
    assert run.status == 0, run.err
    assert "\x1b" not in run.out and not set("│─━┃┏┡╇") & set(run.out)
    rows = [line for line in run.out.splitlines() if line.startswith(tuple(letters["ids"]))]
    assert len(rows) == 3  # one line each, whatever the error's length
    for row in rows:
        message_id, fingerprint, *_ = row.split()
        assert message_id in letters["ids"] and fingerprint in letters["fingerprints"]
    assert "ERROR" in run.out.splitlines()[0]


async def test_json_outputs_parse_and_carry_every_column(amqp_url: str, letters: dict[str, Any]) -> None:
    table_fields = {
        "message_id",
        "fingerprint",
        "age_seconds",
        "event_type",
        "attempts",
        "reason",
        "error_type",
        "error_message",
        "source_queue",
        "replays",
        "dead_lettered_at",
        "error_location",
    }
    listed = await cli_here(amqp_url, "list", letters["dlq"], "-o", "json")
    assert listed.status == 0, listed.err
    document = json.loads(listed.out)
    assert document["matched"] == document["scanned"] == 3
    assert [item["message_id"] for item in document["items"]] == list(reversed(letters["ids"]))
    for item in document["items"]:
        assert table_fields <= item.keys()
    assert document["items"][0]["error_type"] == "msgspec.ValidationError"
    assert document["items"][2]["error_message"] == LONG_ERROR  # whole, where the table cuts it

    lines = await cli_here(amqp_url, "list", letters["dlq"], "-o", "jsonl")
    records = [json.loads(line) for line in lines.out.splitlines()]
    assert [r["message_id"] for r in records] == list(reversed(letters["ids"]))
    assert all(table_fields <= r.keys() for r in records)

    stats = json.loads((await cli_here(amqp_url, "stats", letters["dlq"], "-o", "json")).out)
    assert [(g["fingerprint"], g["count"]) for g in stats["items"]] == [
        ("9a3d324c0b1e2f77", 2),
        ("5c0ffee5c0ffee51", 1),
    ]
    group_fields = {
        "count",
        "fingerprint",
        "event_types",
        "last_at",
        "last_age_seconds",
        "error_type",
        "error_message",
    }
    assert all(group_fields | {"error_location", "first_at"} <= g.keys() for g in stats["items"])
    stats_lines = (await cli_here(amqp_url, "stats", letters["dlq"], "-o", "jsonl")).out.splitlines()
    assert [json.loads(line)["count"] for line in stats_lines] == [2, 1]

    shown = json.loads(
        (await cli_here(amqp_url, "show", letters["dlq"], letters["ids"][2], "-o", "json")).out
    )
    assert shown["message_id"] == letters["ids"][2] and shown["body"]["n"] == 2 and shown["headers"]
    shown_line = (await cli_here(amqp_url, "show", letters["dlq"], letters["ids"][2], "-o", "jsonl")).out
    assert len(shown_line.splitlines()) == 1 and json.loads(shown_line) == shown

    dry = await cli_here(
        amqp_url, "replay", letters["dlq"], "--fingerprint", "9a3d", "--dry-run", "-o", "json"
    )
    assert dry.status == 0, dry.err
    plan = json.loads(dry.out)
    assert plan["dry_run"] is True and plan["selected"] == 2 and plan["moved"] == 0
    assert sorted(i["message_id"] for i in plan["items"]) == sorted(letters["ids"][:2])
    assert all(table_fields <= i.keys() for i in plan["items"])
    dry_lines = (await cli_here(amqp_url, "replay", letters["dlq"], "--all", "--dry-run", "-o", "jsonl")).out
    assert len([json.loads(line) for line in dry_lines.splitlines()]) == 3


async def test_unique_prefixes_are_accepted_and_ambiguous_ones_refused(
    bus: Bus, amqp_url: str, letters: dict[str, Any]
) -> None:
    dlq, ids = letters["dlq"], letters["ids"]
    shown = await cli_here(amqp_url, "show", dlq, "aaaa2")
    assert shown.status == 0, shown.err
    assert json.loads(shown.out)["message_id"] == ids[1]

    ambiguous = await cli_here(amqp_url, "replay", dlq, "--id", "aaaa")
    assert ambiguous.status == 1
    assert "ambiguous" in ambiguous.err
    assert_whole(ambiguous.err, ids[:2])  # it names the candidates, whole
    assert await queue_depth(bus, dlq) == 3 and await queue_depth(bus, letters["source"]) == 0

    unknown = await cli_here(amqp_url, "show", dlq, "ffff")
    assert unknown.status == 1 and "no dead letter" in unknown.err

    listed = await cli_here(amqp_url, "list", dlq, "--fingerprint", "5c0f", "-o", "json")
    assert [item["message_id"] for item in json.loads(listed.out)["items"]] == [ids[2]]
    refused = await cli_here(amqp_url, "list", dlq, "--fingerprint", "")
    assert refused.status == 1 and "9a3d324c0b1e2f77" in refused.err and "5c0ffee5c0ffee51" in refused.err

    moved = await cli_here(amqp_url, "replay", dlq, "--id", "aaaa1", "--id", ids[2][:8])
    assert moved.status == 0, moved.err
    assert "replayed 2" in moved.out
    assert await queue_depth(bus, letters["source"]) == 2
    remaining = json.loads((await cli_here(amqp_url, "list", dlq, "-o", "json")).out)["items"]
    assert [item["message_id"] for item in remaining] == [ids[1]]


async def test_replay_and_purge_write_audit_lines(
    bus: Bus, amqp_url: str, letters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"CODEX_OPERATOR": "alice@ops", "LOG_FORMAT": "json"}
    replay = await cli(amqp_url, "replay", letters["dlq"], "--fingerprint", "9a3d324c0b1e2f77", env=env)
    assert replay.status == 0, replay.err
    audit = [json.loads(line) for line in replay.err.splitlines() if '"dlq.replayed' in line]
    summary = next(a for a in audit if a["event"] == "dlq.replayed")
    chunk = next(a for a in audit if a["event"] == "dlq.replayed_ids")
    assert summary["operator"] == "alice@ops" and summary["host"] and summary["queue"] == letters["dlq"]
    assert summary["moved"] == 2 and summary["fingerprint"] == "9a3d324c0b1e2f77"
    assert sorted(chunk["ids"]) == sorted(letters["ids"][:2])
    password = amqp_url.split(":")[2].split("@")[0]
    assert f":{password}@" not in replay.err  # never the broker's credentials

    monkeypatch.setenv("CODEX_OPERATOR", "bob")
    with structlog.testing.capture_logs() as logs:
        purge = await cli_here(amqp_url, "purge", letters["dlq"], "--yes")
    assert purge.status == 0, purge.err
    assert "purged 1" in purge.out
    [ids] = [line for line in logs if line["event"] == "dlq.purged_ids"]
    [done] = [line for line in logs if line["event"] == "dlq.purged"]
    assert ids["ids"] == [letters["ids"][2]] and ids["operator"] == "bob"
    assert done["moved"] == 1 and done["queue"] == letters["dlq"] and done["host"]
    assert await queue_depth(bus, letters["dlq"]) == 0
