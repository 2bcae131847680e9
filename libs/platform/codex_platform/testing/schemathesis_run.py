"""`run_schemathesis`: a service's OpenAPI document against the running service, every check, every phase.

    report = run_schemathesis(app, tokens={"creator": t1, "customer": t2}, allowed=[Refusal(...)])

schemathesis 4's engine (what `st run --checks all` drives) runs its phases (examples, coverage,
fuzzing, stateful) with every built-in check, once per signed-in identity in `tokens`, so that the
operations behind a token are exercised past their 401s. Any failure fails the test unless it matches
one of `allowed`: a refusal that depends on state the generator cannot know (an unknown one-time
token, a wrong current password), each with its reason. Not imported by the pytest plugin: only the
OpenAPI tests pay for importing schemathesis.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
import uvicorn
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic

__all__ = ["MALFORMED_HTTP", "FuzzReport", "LogIn", "Refusal", "run_schemathesis", "serve_in_thread"]

# Every built-in check (`--checks all`); max_response_time needs a limit, and timing is the benches' job.
ALL_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
)
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass(frozen=True)
class LogIn:
    """An identity that signs in through the service's own login operation (`POST path` with `payload`,
    the token at the JSON pointer `token_at`), and again whenever an answer is 401: for the service
    that issues the tokens, where a generated logout or password change ends the session behind one."""

    path: str
    payload: Mapping[str, str]
    token_at: str = "/access_token"  # noqa: S105 (a JSON pointer, not a secret)


Identity = str | LogIn | None
"""A bearer token, a `LogIn`, or None for an anonymous caller."""


@dataclass(frozen=True)
class Refusal:
    """A failure that is not a defect: `check` failed on `operation` ("POST /auth/login", "*" for any)
    because of state the generator cannot know; `reason` says which. `status` narrows it to one
    answer, `sent` to requests whose reproduction (the curl line) holds that text, say `cursor=`, and
    `answered` to failures whose account holds that text (None: any)."""

    operation: str
    check: str
    reason: str
    status: int | None = None
    sent: str | None = None
    answered: str | None = None

    def covers(self, found: Found) -> bool:
        return (
            self.operation in (found.operation, "*")
            and self.check in found.checks
            and (self.status is None or found.status == self.status)
            and (self.sent is None or self.sent in found.reproduce)
            and (self.answered is None or self.answered in found.message)
        )


MALFORMED_HTTP = Refusal(
    "*",
    "content_type_conformance",
    "a request HTTP itself forbids (a Content-Length that is no number, a header name that is no "
    "token) is refused by uvicorn's HTTP parser with a plain-text 400 before the service sees it",
    status=400,
    answered="Received: text/plain",
)
"""Always allowed: the services answer every error they see as problem+json; only the server's HTTP
parser answers in plain text."""


@dataclass(frozen=True)
class Found:
    """One failure schemathesis reported: where, which check, the answer's status and its account."""

    identity: str
    operation: str
    checks: tuple[str, ...]
    status: int | None
    message: str
    reproduce: str

    def __str__(self) -> str:
        return (
            f"[{self.identity}] {self.operation}: {'/'.join(self.checks)} (status {self.status})\n"
            f"  {self.message.strip()}\n  reproduce: {self.reproduce}"
        )


@dataclass
class FuzzReport:
    """What one `run_schemathesis` saw: cases generated per identity, failures unexplained and allowed."""

    cases: dict[str, int] = field(default_factory=dict)
    failures: list[Found] = field(default_factory=list)
    allowed: list[tuple[Found, Refusal]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    # identity -> the operations that answered it 2xx at least once: proof that its token was used
    # past the 401s.
    succeeded: dict[str, set[str]] = field(default_factory=dict)

    @property
    def total_cases(self) -> int:
        return sum(self.cases.values())

    def allowed_lines(self) -> list[str]:
        """One line per allowed refusal seen: identity, operation, status and the reason it is allowed."""
        return [
            f"[{found.identity}] {found.operation} {found.status}: {refusal.reason}"
            for found, refusal in self.allowed
        ]

    def summary(self) -> str:
        per_identity = ", ".join(f"{name} {count}" for name, count in self.cases.items())
        return (
            f"{self.total_cases} cases ({per_identity}) in {self.elapsed_s:.1f} s: "
            f"{len(self.failures)} unexplained failures, {len(self.allowed)} allowed refusals, "
            f"{len(self.errors)} errors"
        )


def run_schemathesis(
    app_or_url: Any,
    *,
    tokens: Mapping[str, Identity],
    headers: Mapping[str, str] | None = None,
    allowed: Sequence[Refusal] = (),
    max_examples: int = 10,
    stateful_steps: int = 10,
    seed: int = 18,
    bearer_scheme: str = "bearerAuth",
) -> FuzzReport:
    """Run every check in every phase against the service, once per identity of `tokens`.

    `app_or_url` is a base URL (its document at `/docs/openapi.json`) or an ASGI app, then served
    under uvicorn in a thread for the run. `tokens` maps an identity's name ("creator") to its bearer
    token (a `LogIn` to sign in through the service; None: anonymous); `headers` go on every request
    (an `Origin`, say). `max_examples` bounds each operation per phase, `stateful_steps` each stateful
    scenario, so that a run stays short; the `seed` keeps it the same from run to run. Raises
    AssertionError naming each unexplained failure (and each engine error); returns the report.
    """
    options = _Options(dict(headers or {}), max_examples, stateful_steps, seed, bearer_scheme)
    if isinstance(app_or_url, str):
        report = _run(app_or_url.rstrip("/"), tokens, allowed, options)
    else:
        with serve_in_thread(app_or_url) as url:
            report = _run(url, tokens, allowed, options)
    problems = [str(found) for found in report.failures] + report.errors
    if problems:
        raise AssertionError(report.summary() + "\n\n" + "\n\n".join(problems))
    return report


@dataclass(frozen=True)
class _Options:
    headers: dict[str, str]
    max_examples: int
    stateful_steps: int
    seed: int
    bearer_scheme: str


_INTERPRETER_FLAKE = "AST constructor recursion depth mismatch"


def _run_identity(
    url: str, identity: str, token: Identity, options: _Options, report: FuzzReport
) -> tuple[Statistic, list[str]]:
    config = schemathesis.Config.from_dict(_config(url, token, options))
    schema = schemathesis.openapi.from_url(f"{url}/docs/openapi.json", config=config)
    statistic = Statistic()
    errors: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            statistic.on_scenario_finished(event.recorder)
            report.succeeded.setdefault(identity, set()).update(_succeeded(event.recorder))
        elif isinstance(event, events.NonFatalError):
            errors.append(f"[{identity}] {event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            errors.append(f"[{identity}] fatal: {event.exception!r}")
    return statistic, errors


def _run(
    url: str, tokens: Mapping[str, Identity], allowed: Sequence[Refusal], options: _Options
) -> FuzzReport:
    report = FuzzReport()
    started = time.monotonic()
    for identity, token in tokens.items():
        for attempt in (1, 2, 3):
            statistic, errors = _run_identity(url, identity, token, options, report)
            # CPython 3.11 can raise this SystemError from the `ast` module while hypothesis builds a
            # stateful scenario and the server under test runs in another thread: an engine error, not
            # an answer of the API. Run the identity again; if it keeps coming, say so and go on: the
            # other phases ran, and any failure they found is still reported.
            flakes = [error for error in errors if _INTERPRETER_FLAKE in error]
            if flakes and len(flakes) == len(errors) and attempt < 3:
                continue
            errors = [error for error in errors if _INTERPRETER_FLAKE not in error]
            if flakes:
                warnings.warn(f"schemathesis: {flakes[0]} (CPython's ast, {attempt} tries)", stacklevel=2)
            break
        report.errors.extend(errors)
        report.cases[identity] = statistic.total_cases
        for found in _failures(identity, statistic):
            refusal = next((r for r in (*allowed, MALFORMED_HTTP) if r.covers(found)), None)
            if refusal is None:
                report.failures.append(found)
            else:
                report.allowed.append((found, refusal))
    report.elapsed_s = time.monotonic() - started
    return report


def _config(url: str, token: Identity, options: _Options) -> dict[str, Any]:
    config: dict[str, Any] = {
        "base-url": url,
        "seed": options.seed,
        "cache": {"enabled": False},  # nothing kept between runs, nothing written to disk
        "checks": {name: {"enabled": True} for name in ALL_CHECKS},
        "phases": {
            **{name: {"enabled": True} for name in PHASES},
            "stateful": {"enabled": True, "max-steps": options.stateful_steps},
        },
        "generation": {
            "mode": "all",
            "max-examples": options.max_examples,
            "database": "none",
            "deterministic": True,
        },
        "suppress-health-check": ["all"],
        "request-timeout": 10,
        # Sign-up and login in the document are not enough for auth's own (the address is confirmed by
        # mail first): the tests sign in themselves and pass the tokens.
        "auth": {"auto-signup": False},
    }
    if options.headers:
        config["headers"] = options.headers
    if isinstance(token, LogIn):
        login = {"path": token.path, "payload": dict(token.payload), "extract_selector": token.token_at}
        config["auth"]["dynamic"] = {"openapi": {options.bearer_scheme: login}}
    elif token is not None:
        config["auth"]["openapi"] = {options.bearer_scheme: {"bearer": token}}
    return config


def _succeeded(recorder: Any) -> Iterator[str]:
    """The operations of a scenario that answered 2xx."""
    for case_id, interaction in recorder.interactions.items():
        response = interaction.response
        node = recorder.cases.get(case_id)
        if response is not None and node is not None and 200 <= response.status_code < 300:
            yield str(node.value.operation.label)


def _failures(identity: str, statistic: Statistic) -> Iterator[Found]:
    for label, groups in statistic.failures.items():
        for group in groups.values():
            status = group.response.status_code if group.response is not None else None
            for failure in group.failures:
                yield Found(
                    identity=identity,
                    operation=_operation_of(label),
                    checks=_check_names(failure),
                    status=status,
                    message=f"{failure.title}: {failure.message}",
                    reproduce=group.code_sample or "",
                )


def _operation_of(label: str) -> str:
    """`POST /auth/login` from a report label, which may add the coverage scenario after it."""
    method, _, rest = label.partition(" ")
    return f"{method} {rest.split(' ')[0]}"


def _check_names(failure: Any) -> tuple[str, ...]:
    """The checks that report this kind of failure (and its class, for one no check names)."""
    return (*getattr(failure, "checks", ()), type(failure).__name__)


@contextmanager
def serve_in_thread(app: Any, *, name: str = "service-under-test") -> Iterator[str]:
    """Serve an ASGI app under uvicorn in a thread with its own event loop, for synchronous callers
    (schemathesis); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start; see its log lines")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
