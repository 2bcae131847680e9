"""Dead-letter tooling without a broker: table fitting, short ids, audit lines, the alert rules."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml
from prometheus_client import REGISTRY

import codex_bus.dlq_gauges
import codex_bus.metrics  # noqa: F401 - registers the bus's metrics
from codex_bus.dlq_audit import AuditTrail
from codex_bus.dlq_output import Column, Output, _wrap, age
from codex_bus.dlq_prefix import AmbiguousPrefix, PrefixMatch, UnknownPrefix

RULES = Path(__file__).parents[3] / "deploy" / "alerts" / "codex-bus.rules.yml"


class Terminal(io.StringIO):
    """A stream that says it is a terminal; `getvalue()` without the colour codes."""

    def isatty(self) -> bool:
        return True

    def getvalue(self) -> str:
        return re.sub(r"\x1b\[[0-9;]*m", "", super().getvalue())


def test_ages_read_as_kubectl_writes_them() -> None:
    assert [age(s) for s in (None, 5, 119, 120, 7199, 7200, 47 * 3600, 49 * 3600)] == [
        "-",
        "5s",
        "119s",
        "2m",
        "119m",
        "2h",
        "47h",
        "2d",
    ]


def test_wrapping_breaks_after_dots_and_folds_only_what_has_no_break() -> None:
    assert _wrap("catalog.content.archived.v1", 16) == "catalog.content.\narchived.v1"
    assert _wrap("purchase.completed.v1", 19) == "purchase.\ncompleted.v1"  # the version stays
    assert _wrap("KeyError: 'a b c'", 10) == "KeyError:\n'a b c'"
    assert _wrap("x" * 25, 10) == "x" * 10 + "\n" + "x" * 10 + "\n" + "x" * 5


COLUMNS = (
    Column("ID"),
    Column("TYPE", keep=1, wrap=12),
    Column("ERROR", keep=2, wrap=20),
    Column("X", wide_only=True),
)
ROW = [
    "6b0e1c2d-0000-4000-8000-00000000abcd",
    "catalog.content.archived.v1",
    "KeyError: " + "long " * 20,
    "x",
]


def test_a_narrow_terminal_drops_the_error_first_and_never_cuts_an_id() -> None:
    stream = Terminal()
    Output("table", stream, width=60).table(COLUMNS, [ROW])
    lines = stream.getvalue().splitlines()
    assert lines[0].split() == ["ID", "TYPE"] and ROW[0] in lines[1]
    assert "-o wide" in stream.getvalue() and "ERROR" in stream.getvalue().splitlines()[-1]
    assert all(len(line.rstrip()) <= 60 for line in lines)

    narrow = Terminal()  # narrower than the id itself: the line overflows, the id stays whole
    Output("table", narrow, width=20).table(COLUMNS, [ROW])
    assert ROW[0] in narrow.getvalue()

    wide = Terminal()
    Output("wide", wide, width=60).table(COLUMNS, [ROW])  # does not fit: one block per row
    text = wide.getvalue()
    assert ROW[0] in text and "X" in text and " ".join(text.split()).count("long") == 20


def test_a_pipe_gets_plain_lines_whatever_the_width() -> None:
    stream = io.StringIO()
    Output("table", stream, width=40).table(COLUMNS, [ROW])
    [header, row] = stream.getvalue().splitlines()
    assert header.split() == ["ID", "TYPE", "ERROR"] and row.startswith(ROW[0]) and row.endswith("long")


def test_a_prefix_names_one_value_or_is_refused() -> None:
    match = PrefixMatch("id", ["ab", "abc1", "zz", "c"])
    for value in ("abc1", "abc1-longer", "abd2", "c9"):
        match.see(value)
    with pytest.raises(AmbiguousPrefix) as ambiguous:
        match.resolved()
    assert ambiguous.value.candidates == ["abc1", "abc1-longer", "abd2"]
    exact = PrefixMatch("id", ["abc1", "c"])
    for value in ("abc1", "abc1-longer", "c9"):
        exact.see(value)
    assert exact.resolved() == ["abc1", "c9"]  # a whole value wins over a longer one
    with pytest.raises(UnknownPrefix):
        PrefixMatch("fingerprint", ["ff"]).resolved()


def test_audit_lines_carry_who_where_which_and_how_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_OPERATOR", "carol")
    with structlog.testing.capture_logs() as logs:
        trail = AuditTrail("replayed", "catalog.dlq", fingerprint="9a3d324c0b1e2f77")
        for n in range(1200):
            trail.moved(f"id-{n}")
        trail.finish(selected=1200)
    chunks = [line for line in logs if line["event"] == "dlq.replayed_ids"]
    assert [len(c["ids"]) for c in chunks] == [500, 500, 200]
    assert [i for c in chunks for i in c["ids"]] == [f"id-{n}" for n in range(1200)]
    [summary] = [line for line in logs if line["event"] == "dlq.replayed"]
    assert summary["moved"] == 1200 and summary["operator"] == "carol" and summary["host"]
    assert summary["fingerprint"] == "9a3d324c0b1e2f77" and summary["queue"] == "catalog.dlq"


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_name_metrics_the_bus_exports() -> None:
    exported: set[str] = set()
    for family in REGISTRY.collect():
        exported.update({family.name, f"{family.name}_total"})
    rules = _rules()
    assert {r["alert"] for r in rules} >= {
        "CodexDeadLetterQueueGrowing",
        "CodexOutboxBacklogOld",
        "CodexOutboxRelayStopped",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]
        named = set(re.findall(r"\bcodex_bus_[a-z_]+", rule["expr"]))
        assert named and named <= exported, f"{rule['alert']}: {named - exported} is exported by nothing"
        assert rule["expr"].count("(") == rule["expr"].count(")")
