"""Switches that make the endpoint misbehave the way the cloud sometimes does, so that clients are tested.

A rule names what goes wrong and which jobs it hits:

- ``dropWebhook``: the webhook is never sent (the job's status stays correct).
- ``duplicateWebhook``: the webhook is delivered twice.
- ``delayWebhookSeconds``: the webhook leaves that many seconds after the job ends.
- ``completeWithoutOutput``: the job reports COMPLETED but its output is lost.
- ``forgetJob``: the job is forgotten ``forgetAfterSeconds`` (default 0) after it ends, long before the
  retention period: /status answers 404 from then on.
- ``executeTwice``: the job runs twice (the platform hands it out again after the first run ends): two
  executions, two webhooks for one id.
- ``failStatus`` (429 or 5xx) on ``failRoutes`` (any of ``run``, ``runsync``, ``status``, ``cancel``;
  all but runsync when absent), with ``retryAfterSeconds`` as ``Retry-After``: the request is answered
  with that status and nothing is done; with ``failAfterSubmit`` a /run does submit the job and then
  answers with the failure (a lost response: the client does not learn the id). Such a rule counts
  requests, not jobs, against ``times``.

Scope: ``jobId`` pins a rule to one job (set it after /run returns); otherwise a rule applies to jobs
submitted after it, on ``endpointId`` (any endpoint when absent), for the next ``times`` jobs (every
job when absent). Rules are set with ``POST /_admin/faults`` or, at start, ``CODEX_RUNPOD_LOCAL_FAULTS``
(a JSON list of the same objects). Pure: no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Literal

import msgspec

Route = Literal["run", "runsync", "status", "cancel"]
DEFAULT_FAIL_ROUTES: tuple[Route, ...] = ("run", "status", "cancel")
FAIL_STATUSES = {429, 500, 502, 503, 504}


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
    execute_twice: bool = False
    fail_status: int | None = None
    fail_routes: list[Route] | None = None
    retry_after_seconds: float | None = None
    fail_after_submit: bool = False

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1")
        if self.delay_webhook_seconds < 0 or self.forget_after_seconds < 0:
            raise ValueError("delays cannot be negative")
        if self.fail_status is not None and self.fail_status not in FAIL_STATUSES:
            raise ValueError(f"failStatus must be one of {sorted(FAIL_STATUSES)}")
        route_fields = (self.fail_routes, self.retry_after_seconds, self.fail_after_submit)
        if self.fail_status is None and any(route_fields):
            raise ValueError("failRoutes, retryAfterSeconds and failAfterSubmit need failStatus")
        if self.retry_after_seconds is not None and self.retry_after_seconds < 0:
            raise ValueError("retryAfterSeconds cannot be negative")

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self.fail_routes) if self.fail_routes else DEFAULT_FAIL_ROUTES


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
    execute_twice: bool = False

    def merge(self, other: Faults) -> Faults:
        forget = [s for s in (self.forget_after_s, other.forget_after_s) if s is not None]
        return Faults(
            drop_webhook=self.drop_webhook or other.drop_webhook,
            duplicate_webhook=self.duplicate_webhook or other.duplicate_webhook,
            delay_webhook_s=max(self.delay_webhook_s, other.delay_webhook_s),
            complete_without_output=self.complete_without_output or other.complete_without_output,
            forget_after_s=min(forget) if forget else None,
            execute_twice=self.execute_twice or other.execute_twice,
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
            execute_twice=rule.execute_twice,
        )


NO_FAULTS = Faults()


@dataclass(frozen=True)
class RouteFault:
    """A cloud route answering with an error instead of doing its work."""

    status: int
    retry_after_s: float | None
    after_submit: bool
    rule_id: str


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
            if rule.fail_status is not None:  # a route rule: it counts requests, not jobs
                continue
            faults = faults.merge(Faults.of(rule))
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self.rules[rule.id]
        return faults

    def route_fault(self, endpoint_id: str, route: Route, job_id: str | None = None) -> RouteFault | None:
        """The failure a request to ``route`` meets now, if a rule says so; uses up one of its times."""
        for rule in list(self.rules.values()):
            if rule.fail_status is None or route not in rule.routes:
                continue
            if rule.endpoint_id not in (None, endpoint_id) or rule.job_id not in (None, job_id):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self.rules[rule.id]
            return RouteFault(rule.fail_status, rule.retry_after_seconds, rule.fail_after_submit, rule.id)
        return None

    def for_job(self, job_id: str, bound: Faults) -> Faults:
        """Faults of a job now: those bound at submission plus rules that name it."""
        faults = bound
        for rule in self.rules.values():
            if rule.job_id == job_id:
                faults = faults.merge(Faults.of(rule))
        return faults
