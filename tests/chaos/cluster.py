"""A throwaway 3-node RabbitMQ cluster from the installed rabbitmq-server, no Docker.

Each node runs as a child of this process with its own name, ports, data and log directories
under one temporary directory, and a cookie of its own (so the system node on 5672, whose epmd it
shares, is never touched). Only what this module started is stopped or killed, by process id.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SBIN = Path(os.environ.get("RABBITMQ_SBIN", "/usr/lib/rabbitmq/bin"))


@dataclass
class Node:
    name: str  # e.g. codex-chaos-1@localhost
    amqp_port: int
    dist_port: int
    base: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.amqp_port}"

    @property
    def beam_pid(self) -> int:
        """The Erlang VM's process (the script that starts it is its parent)."""
        return int((self.base / "pid").read_text().strip())


class Cluster:
    """`with Cluster(size=3, first_port=5681) as cluster:` starts, joins, and afterwards removes it."""

    def __init__(self, *, size: int = 3, first_port: int = 5681, prefix: str = "codex-chaos") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="codex-chaos-"))
        self.home = self.root / "home"
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "env.conf").write_text("")
        self.nodes = [
            Node(
                f"{prefix}-{i + 1}@localhost",
                first_port + i,
                first_port + 20000 + i,
                self.root / f"node{i + 1}",
            )
            for i in range(size)
        ]

    def url(self, *, rotate: int = 0) -> str:
        """An AMQP_URL naming every node, starting with node `rotate` (guest: clients are local)."""
        order = self.nodes[rotate:] + self.nodes[:rotate]
        return f"amqp://guest:guest@{','.join(node.address for node in order)}/"

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()

    def start(self) -> None:
        for node in self.nodes:
            self._launch(node)
        for node in self.nodes:
            self._await_startup(node)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        # Guest may connect from 127.0.0.1 only, which is where the clients are.

    def _launch(self, node: Node) -> None:
        for sub in ("mnesia", "log"):
            (node.base / sub).mkdir(parents=True, exist_ok=True)
        config = node.base / "rabbitmq.conf"
        config.write_text(f"listeners.tcp.local = 127.0.0.1:{node.amqp_port}\n")
        env = {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.base / "log"),
            "RABBITMQ_PID_FILE": str(node.base / "pid"),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        log = (node.base / "stdout.log").open("wb")
        node.process = subprocess.Popen(
            [str(SBIN / "rabbitmq-server")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ctl(self, node: Node, *args: str, timeout: float = 150) -> str:
        """`rabbitmqctl -n <node> ...`; raises with its output on failure."""
        result = subprocess.run(
            [str(SBIN / "rabbitmqctl"), "-q", "-n", node.name, *args],
            env={**os.environ, "HOME": str(self.home), "ERL_EPMD_ADDRESS": "127.0.0.1"},
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl {' '.join(args)} on {node.name}: {result.stdout!r} {result.stderr!r}"
            )
        return result.stdout.decode()

    def leader_of(self, queue: str, *, ask: Node | None = None) -> Node:
        """The node that leads the quorum queue `queue` now."""
        ask = ask or self.alive()[0]
        for line in self.ctl(ask, "list_queues", "name", "leader", "--no-table-headers").splitlines():
            name, _, leader = line.strip().partition("\t")
            if name == queue:
                return next(node for node in self.nodes if node.name == leader.strip())
        raise LookupError(f"no queue {queue} on the cluster")

    def alive(self) -> list[Node]:
        return [node for node in self.nodes if node.process is not None and node.process.poll() is None]

    def kill(self, node: Node) -> None:
        """SIGKILL the node's VM (and the script that started it): no goodbye to peers or clients."""
        assert node.process is not None
        os.kill(node.beam_pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(node.process.pid, signal.SIGKILL)  # its own session: only its processes
        node.process.wait(timeout=30)
        node.process = None

    def restart(self, node: Node) -> None:
        """Start a killed node again on its own data: it rejoins the cluster."""
        self._launch(node)
        self._await_startup(node)

    def _await_startup(self, node: Node, timeout: float = 120) -> None:
        # await_startup fails at once while the VM has not registered with epmd yet: retry that.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctl(node, "await_startup", "--timeout", str(int(timeout)))
                return
            except RuntimeError:
                if time.monotonic() > deadline or node.process is None or node.process.poll() is not None:
                    raise
                time.sleep(1.0)

    def remove(self) -> None:
        """Kill every node still running (the ones this object started) and delete their files."""
        for node in self.nodes:
            if node.process is None:
                continue
            with contextlib.suppress(OSError):
                os.killpg(node.process.pid, signal.SIGKILL)  # its own session: only its processes
            node.process.wait(timeout=30)
            node.process = None
        time.sleep(0.5)  # epmd notices the closed registrations
        shutil.rmtree(self.root, ignore_errors=True)
