"""End-to-end fixtures.

runpod_*: the local RunPod endpoint (deploy/stand-ins/runpod-local) as a real server process, with real runpod
SDK worker processes (interpreter: gpu/.venv/bin/python), and a webhook receiver that records what
arrives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

REPO = Path(__file__).resolve().parents[2]
ECHO_WORKER = REPO / "tests" / "e2e" / "workers" / "echo_worker.py"
RUNPOD_KEY = "e2e-runpod-key"
DEVELOPER_RUNPOD_KEY = "developer-real-runpod-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the worker interpreter ----


@pytest.fixture(scope="session")
def runpod_worker_python() -> Path:
    """The gpu/ project's interpreter: it has the runpod SDK (and the real transcode worker)."""
    python = Path(os.environ.get("CODEX_GPU_PYTHON", REPO / "gpu" / ".venv" / "bin" / "python"))
    if not python.exists():
        pytest.fail(
            f"{python} does not exist: the RunPod worker tests run the SDK from the gpu/ environment; "
            "create it with `cd gpu && uv sync` (or `make sync`)"
        )
    return python


# ---- webhook receiver ----


@dataclass(frozen=True)
class RunpodWebhook:
    name: str
    body: dict[str, Any]
    status_code: int  # what the receiver answered
    at: float  # time.monotonic() on arrival


@dataclass
class RunpodWebhookReceiver:
    """Records every POST to /hooks/<name>; answers 200 unless a script of status codes says otherwise,
    at once unless a script of delays (seconds before answering) says otherwise."""

    port: int = 0
    arrivals: list[RunpodWebhook] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def new_url(self, script: list[int] | None = None, delays: list[float] | None = None) -> tuple[str, str]:
        name = uuid.uuid4().hex
        if script:
            self.scripts[name] = list(script)
        if delays:
            self.delays[name] = list(delays)
        return name, self.url(name)

    def delay(self, name: str) -> float:
        with self.lock:
            script = self.delays.get(name)
            return script.pop(0) if script else 0.0

    def received(self, name: str) -> list[RunpodWebhook]:
        with self.lock:
            return [a for a in self.arrivals if a.name == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 10.0) -> list[RunpodWebhook]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(name)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received(name))} webhook(s) arrived at {name}, expected {count}")

    def record(self, name: str, body: dict[str, Any]) -> int:
        with self.lock:
            script = self.scripts.get(name)
            code = script.pop(0) if script else 200
            self.arrivals.append(RunpodWebhook(name, body, code, time.monotonic()))
            return code


@pytest.fixture(scope="session")
def runpod_webhook_receiver() -> Iterator[RunpodWebhookReceiver]:
    receiver = RunpodWebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            name = self.path.rsplit("/", 1)[-1]
            code = receiver.record(name, msgspec.json.decode(raw))
            time.sleep(receiver.delay(name))  # a slow receiver: the body arrived, the answer is late
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


# ---- the local RunPod endpoint ----


@dataclass
class RunpodLocal:
    """A running codex_runpod_local server and a client for it."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    client: httpx.Client

    def run(self, endpoint: str, job_input: dict[str, Any], **extra: Any) -> str:
        response = self.client.post(f"/v2/{endpoint}/run", json={"input": job_input, **extra})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "IN_QUEUE" and set(body) == {"id", "status"}
        return str(body["id"])

    def status(self, endpoint: str, job_id: str) -> httpx.Response:
        return self.client.get(f"/v2/{endpoint}/status/{job_id}")

    def wait_for(self, endpoint: str, job_id: str, *statuses: str, timeout: float = 15.0) -> dict[str, Any]:
        """Poll /status until the job is in one of `statuses`; returns that status body."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.status(endpoint, job_id)
            assert response.status_code == 200, response.text
            body = dict(response.json())
            if body["status"] in statuses:
                return body
            seen.append(body["status"])
            time.sleep(0.03)
        raise AssertionError(f"job {job_id} never reached {statuses}; seen {sorted(set(seen))}")

    def health(self, endpoint: str) -> dict[str, Any]:
        return dict(self.client.get(f"/v2/{endpoint}/health").json())

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        response = self.client.post("/_admin/faults", json=rule)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def webhook_attempts(self, job_id: str) -> list[dict[str, Any]]:
        return list(self.client.get("/_admin/webhooks", params={"jobId": job_id}).json())

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # whatever of its process group is left (an SDK heartbeat process, say)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_runpod_local(
    log_dir: Path, *, extra_env: dict[str, str] | None = None, **settings: Any
) -> RunpodLocal:
    """Start `python -m codex_runpod_local.cli serve` with CODEX_RUNPOD_LOCAL_<NAME>=value settings."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "console", **(extra_env or {})}
    env.update({f"CODEX_RUNPOD_LOCAL_{k.upper()}": str(v) for k, v in settings.items()})
    env["CODEX_RUNPOD_LOCAL_PORT"] = str(port)
    env.setdefault("CODEX_RUNPOD_LOCAL_API_KEY", RUNPOD_KEY)
    log_path = log_dir / f"runpod-local-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "codex_runpod_local.cli", "serve"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    client = httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {env['CODEX_RUNPOD_LOCAL_API_KEY']}"},
        timeout=30,
    )
    server = RunpodLocal(base_url, process, log_path, client)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"runpod-local exited with {process.returncode}:\n{server.log_text()}")
        try:
            if client.get("/healthz").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"runpod-local did not start in 30 s:\n{server.log_text()}")


def wait_for_workers(server: RunpodLocal, endpoint: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = server.health(endpoint)["workers"]
        if workers["idle"] + workers["running"] >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} SDK worker(s) never polled {endpoint}:\n{server.log_text()[-4000:]}")


# The session's endpoint: "echo" served by two SDK worker processes running echo_worker.py, and
# "idle" with no worker (jobs stay queued). Short intervals keep the suite fast.
RUNPOD_E2E_SETTINGS: dict[str, Any] = {
    "endpoints": "echo,idle",
    "workers": 2,
    "webhook_attempts": 3,
    "webhook_interval_s": 0.5,
    "webhook_timeout_s": 0.5,  # 2 s by default; short here so that a slow receiver test is quick
    "worker_poll_wait_s": 2,
    "worker_ping_interval_ms": 1000,
    "sweep_interval_s": 0.05,
    "min_execution_timeout_ms": 100,
    "min_ttl_ms": 100,
    "runsync_wait_s": 10,
}


@pytest.fixture(scope="session")
def runpod_local(
    runpod_worker_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunpodLocal]:
    # The server runs as a developer's shell would: a HOME holding real RunPod credentials and
    # RUNPOD_API_KEY set. Its workers must see neither (test_runpod_local_quirks.py).
    home = tmp_path_factory.mktemp("developer-home")
    (home / ".runpod").mkdir()
    (home / ".runpod" / "config.toml").write_text(f'[default]\napi_key = "{DEVELOPER_RUNPOD_KEY}"\n')
    server = start_runpod_local(
        tmp_path_factory.mktemp("runpod-local"),
        extra_env={"HOME": str(home), "RUNPOD_API_KEY": DEVELOPER_RUNPOD_KEY},
        worker_command=f"{runpod_worker_python} {ECHO_WORKER}",
        **RUNPOD_E2E_SETTINGS,
    )
    try:
        wait_for_workers(server, "echo", 2)
        yield server
    finally:
        server.stop()


@pytest.fixture
def runpod_faults(runpod_local: RunpodLocal) -> Iterator[Callable[..., dict[str, Any]]]:
    """Add fault rules to the session's endpoint; all are removed after the test."""
    yield runpod_local.add_fault
    runpod_local.client.delete("/_admin/faults")


@pytest.fixture
def runpod_local_factory(tmp_path: Path) -> Iterator[Callable[..., RunpodLocal]]:
    """Start further endpoints with their own settings (stopped after the test)."""
    started: list[RunpodLocal] = []

    def start(*, extra_env: dict[str, str] | None = None, **settings: Any) -> RunpodLocal:
        server = start_runpod_local(tmp_path, extra_env=extra_env, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
