"""Switches that make the endpoint misbehave the way the cloud sometimes does, so that clients are tested.

A rule names what goes wrong and which jobs it hits:

- ``dropWebhook``: the webhook is never sent (the job's status stays correct).
- ``duplicateWebhook``: the webhook is delivered twice.
- ``delayWebhookSeconds``: the webhook leaves that many seconds after the job ends.
- ``completeWithoutOutput``: the job reports COMPLETED but its output is lost.
- ``forgetJob``: the job is forgotten ``forgetAfterSeconds`` (default 0) after it ends, long before the
  retention period: /status answers 404 from then on.

Scope: ``jobId`` pins a rule to one job (set it after /run returns); otherwise a rule applies to jobs
submitted after it, on ``endpointId`` (any endpoint when absent), for the next ``times`` jobs (every
job when absent). Rules are set with ``POST /_admin/faults`` or, at start, ``CODEX_RUNPOD_LOCAL_FAULTS``
(a JSON list of the same objects). Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import msgspec


class FaultRuleSpec(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True):
    """A fault rule as clients write it."""

    endpoint_id: str | None = None
    job_id: str | None = None
    times: int | None = None
    drop_webhook: bool = False
    duplicate_webhook: bool = False
    delay_webhook_seconds: float = 0.0
    complete_without_output: bool = False
    forget_job: bool = False
    forget_after_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1")
        if self.delay_webhook_seconds < 0 or self.forget_after_seconds < 0:
            raise ValueError("delays cannot be negative")


class FaultRule(FaultRuleSpec, kw_only=True):
    """A rule as stored: the spec plus its id and how many more jobs it may still hit."""

    id: str
    remaining: int | None = None


@dataclass(frozen=True)
class Faults:
    """The misbehaviour that applies to one job: the union of the rules that hit it."""

    drop_webhook: bool = False
    duplicate_webhook: bool = False
    delay_webhook_s: float = 0.0
    complete_without_output: bool = False
    forget_after_s: float | None = None  # None: remember for the whole retention period

    def merge(self, other: Faults) -> Faults:
        forget = [s for s in (self.forget_after_s, other.forget_after_s) if s is not None]
        return Faults(
            drop_webhook=self.drop_webhook or other.drop_webhook,
            duplicate_webhook=self.duplicate_webhook or other.duplicate_webhook,
            delay_webhook_s=max(self.delay_webhook_s, other.delay_webhook_s),
            complete_without_output=self.complete_without_output or other.complete_without_output,
            forget_after_s=min(forget) if forget else None,
        )

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) not in (False, 0.0, None) for f in fields(self))

    @classmethod
    def of(cls, rule: FaultRuleSpec) -> Faults:
        return cls(
            drop_webhook=rule.drop_webhook,
            duplicate_webhook=rule.duplicate_webhook,
            delay_webhook_s=rule.delay_webhook_seconds,
            complete_without_output=rule.complete_without_output,
            forget_after_s=rule.forget_after_seconds if rule.forget_job else None,
        )


NO_FAULTS = Faults()


@dataclass
class FaultBook:
    """The installed rules."""

    rules: dict[str, FaultRule] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, spec: FaultRuleSpec) -> FaultRule:
        values = {f: getattr(spec, f) for f in spec.__struct_fields__}
        rule = FaultRule(**values, id=f"fault-{next(self._ids)}", remaining=spec.times)
        self.rules[rule.id] = rule
        return rule

    def remove(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self.rules.clear()

    def bind_new_job(self, endpoint_id: str) -> Faults:
        """Faults for a job being submitted now; uses up one of each counted rule it matches."""
        faults = NO_FAULTS
        for rule in list(self.rules.values()):
            if rule.job_id is not None or rule.endpoint_id not in (None, endpoint_id):
                continue
            faults = faults.merge(Faults.of(rule))
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self.rules[rule.id]
        return faults

    def for_job(self, job_id: str, bound: Faults) -> Faults:
        """Faults of a job now: those bound at submission plus rules that name it."""
        faults = bound
        for rule in self.rules.values():
            if rule.job_id == job_id:
                faults = faults.merge(Faults.of(rule))
        return faults
