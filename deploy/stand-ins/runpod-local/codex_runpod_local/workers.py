"""Real worker processes: the runpod SDK's own worker loop (`runpod.serverless.start`), unchanged, pointed
at this server through the environment variables the SDK reads in the cloud.

What the SDK (runpod 1.x, serverless/modules) reads and does with them:

- ``RUNPOD_WEBHOOK_GET_JOB``: job-take URL; ``$ID`` becomes the worker id, then it appends
  ``&job_in_progress=0|1`` (so the template must already hold a query string), and for batches swaps
  ``/job-take/`` for ``/job-take-batch/`` and appends ``&batch_size=N``. It also derives the stop channel
  by swapping ``/job-take/`` for ``/job-stop/``.
- ``RUNPOD_WEBHOOK_POST_OUTPUT`` / ``RUNPOD_WEBHOOK_POST_STREAM``: job-done / job-stream URLs;
  ``$RUNPOD_POD_ID`` becomes the worker id, ``$ID`` the job id, then ``&isStream=true|false`` is appended.
- ``RUNPOD_WEBHOOK_PING``: heartbeat URL (``$RUNPOD_POD_ID``), every ``RUNPOD_PING_INTERVAL`` ms.
- ``RUNPOD_AI_API_KEY``: sent bare in ``Authorization``; ``RUNPOD_POD_ID``: the worker id;
  ``RUNPOD_ENDPOINT_ID``: shown in its logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codex_runpod_local.settings import Settings

log = logging.getLogger("codex_runpod_local.workers")
# The developer's RunPod credentials stay out of the workers (they get this server's key instead);
# WORKER_ENV_JSON may still set any of these on purpose.
_NOT_INHERITED = {"RUNPOD_API_KEY", "RUNPOD_AI_API_KEY", "RUNPOD_ENDPOINT_BASE_URL", "RUNPOD_API_BASE_URL"}


def worker_env(settings: Settings, worker_id: str, endpoint_id: str | None = None) -> dict[str, str]:
    """The environment that makes the SDK's worker loop talk to this server as it would to the cloud."""
    base = f"{settings.base_url}/v2/{endpoint_id or settings.served_endpoint}"
    # The SDK appends `&...` to these URLs; a query string must already be there.
    return {
        "RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID?gpu=local",
        "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=local",
        "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=local",
        "RUNPOD_WEBHOOK_PING": f"{base}/ping/$RUNPOD_POD_ID?gpu=local",
        "RUNPOD_PING_INTERVAL": str(settings.worker_ping_interval_ms),
        "RUNPOD_AI_API_KEY": settings.api_key,
        "RUNPOD_POD_ID": worker_id,
        "RUNPOD_POD_HOSTNAME": worker_id,
        "RUNPOD_ENDPOINT_ID": endpoint_id or settings.served_endpoint,
    }


@dataclass
class WorkerProcess:
    worker_id: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0


@dataclass
class WorkerPool:
    """N worker processes, restarted when they die (as the cloud replaces a dead worker)."""

    settings: Settings
    cwd: Path = field(default_factory=Path.cwd)
    members: list[WorkerProcess] = field(default_factory=list)
    _stopping: bool = False
    _watchers: list[asyncio.Task[None]] = field(default_factory=list)
    _home: Path | None = None

    def home(self) -> Path:
        """The workers' HOME: an empty directory of this pool's, removed when the pool stops."""
        if self._home is None:
            self._home = Path(tempfile.mkdtemp(prefix="runpod-local-workers-"))
        return self._home

    def command(self) -> list[str]:
        argv = self.settings.worker_argv
        if argv and ("/" in argv[0]) and not Path(argv[0]).is_absolute():
            argv[0] = str(self.cwd / argv[0])
        return argv

    def env_for(self, worker_id: str) -> dict[str, str]:
        env: dict[str, str] = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        # A HOME of their own: `import runpod` reads ~/.runpod/config.toml into runpod.api_key, and a
        # worker started here must not hold the developer's real RunPod key (nor reach the cloud with it).
        env["HOME"] = str(self.home())
        env.update(self.settings.worker_env)
        env.update(worker_env(self.settings, worker_id))
        # The SDK's start-up checks (>= 4 GB memory, disk, CUDA) are for cloud hosts; a laptop or CI
        # box may fail them. Kept overridable through worker_env or the inherited environment.
        env.setdefault("RUNPOD_SKIP_AUTO_SYSTEM_CHECKS", "true")
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.setdefault("RUNPOD_LOG_LEVEL", "INFO")
        return env

    async def start(self) -> None:
        if self.settings.workers <= 0:
            return
        argv = self.command()
        if not argv or ("/" in argv[0] and not os.path.exists(argv[0])):  # noqa: ASYNC240 - once, at start
            log.error(
                "worker command %s not found, no workers started: for the GPU worker run "
                "`cd gpu && uv sync`, or set CODEX_RUNPOD_LOCAL_WORKER_COMMAND (or WORKERS=0)",
                argv[:1],
            )
            return
        for index in range(1, self.settings.workers + 1):
            member = WorkerProcess(worker_id=f"local-{self.settings.served_endpoint}-{index}")
            self.members.append(member)
            await self._spawn(member)
            self._watchers.append(asyncio.create_task(self._watch(member)))

    async def _spawn(self, member: WorkerProcess) -> None:
        member.process = await asyncio.create_subprocess_exec(
            *self.command(),
            cwd=self.cwd,
            env=self.env_for(member.worker_id),
            # its own process group, so that stopping it also stops the SDK's heartbeat child
            start_new_session=True,
        )
        log.info("worker %s started (pid %s)", member.worker_id, member.process.pid)

    async def _watch(self, member: WorkerProcess) -> None:
        while not self._stopping:
            assert member.process is not None
            code = await member.process.wait()
            if self._stopping:
                return
            member.restarts += 1
            delay = min(30.0, 0.5 * 2 ** min(member.restarts, 6))
            log.warning("worker %s exited with %s; restarting in %.1f s", member.worker_id, code, delay)
            await asyncio.sleep(delay)
            if not self._stopping:
                await self._spawn(member)

    def signal_stop(self) -> None:
        """SIGTERM every worker: the SDK's loop then finishes its current poll and exits."""
        if self._stopping:
            return
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        for member in self.members:
            if member.process is not None and member.process.returncode is None:
                _signal_group(member.process.pid, signal.SIGTERM)

    async def stop(self, grace_s: float = 5.0) -> None:
        self.signal_stop()
        for member in self.members:
            process = member.process
            if process is None:
                continue
            if process.returncode is None:
                try:
                    await asyncio.wait_for(process.wait(), grace_s)
                except TimeoutError:
                    _signal_group(process.pid, signal.SIGKILL)
                    await process.wait()
            # the SDK's heartbeat process lives in the same group and may outlive its parent
            _signal_group(process.pid, signal.SIGKILL)
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)

    def describe(self) -> list[Mapping[str, object]]:
        return [
            {
                "workerId": m.worker_id,
                "pid": m.process.pid if m.process else None,
                "running": bool(m.process and m.process.returncode is None),
                "restarts": m.restarts,
            }
            for m in self.members
        ]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
