"""Fault switches for webhook delivery, so that every reconciliation path of a consumer is tested:
`duplicate` (sent twice), `delay` (sent `delay_s` late), `reorder` (held back until the next event has
gone out), `drop` (never sent; `/_admin/events/{id}/resend` sends it later, as Stripe's dashboard does).
A rule applies to the events of `types` (all when empty), `times` times (forever when None)."""

from __future__ import annotations

import itertools
from typing import Literal

import msgspec

__all__ = ["Fault", "FaultRule", "FaultRuleSpec", "Faults"]

Fault = Literal["duplicate", "delay", "reorder", "drop"]
_ids = itertools.count(1)


class FaultRuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    fault: Fault
    types: list[str] = []
    times: int | None = msgspec.field(default=None)
    delay_s: float = 5.0


class FaultRule(msgspec.Struct):
    id: str
    fault: Fault
    types: list[str]
    times: int | None
    delay_s: float
    applied: int = 0


class Faults:
    def __init__(self) -> None:
        self.rules: dict[str, FaultRule] = {}

    def add(self, spec: FaultRuleSpec) -> FaultRule:
        if spec.times is not None and spec.times < 1:
            raise ValueError("times must be at least 1 (or absent: forever)")
        if spec.delay_s < 0:
            raise ValueError("delay_s must not be negative")
        rule = FaultRule(f"fault_{next(_ids)}", spec.fault, list(spec.types), spec.times, spec.delay_s)
        self.rules[rule.id] = rule
        return rule

    def remove(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self.rules.clear()

    def take(self, event_type: str) -> FaultRule | None:
        """The first rule that applies to an event of `event_type`, counted as applied."""
        for rule in self.rules.values():
            if rule.types and event_type not in rule.types:
                continue
            if rule.times is not None and rule.applied >= rule.times:
                continue
            rule.applied += 1
            return rule
        return None
