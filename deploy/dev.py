"""`make dev`: every service of the suite, locally, against the Postgres, RabbitMQ and Redis on localhost.

Starts an S3 server (moto) where S3_ENDPOINT_URL is unset, migrates each service, starts its processes
with their logs interleaved and labelled, prints where everything is, and stops it all on Ctrl-C.
Only services whose package has a cli.py (services/, deploy/stand-ins/) are started: nothing here is a stub.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COLOURS = ["36", "35", "33", "32", "34", "31", "96", "95"]


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    port: int
    migrate: bool = True
    worker: bool = True
    extra: dict[str, str] = field(default_factory=dict)
    home: str = "services"
    after_migrate: tuple[str, ...] = ()
    """Commands of the service's CLI run once after `migrate` (e.g. upload's bucket CORS)."""
    stand_in_for: str | None = None
    """A stand-in runs only where this variable is unset (then it is set to the stand-in's URL)."""

    @property
    def folder(self) -> Path:
        return ROOT / self.home / self.name

    @property
    def present(self) -> bool:
        """Built far enough to run: its package has a command line."""
        return (self.folder / self.module / "cli.py").is_file()


# Every port moves by CODEX_DEV_PORT_OFFSET (the end-to-end test runs a second suite beside `make dev`).
OFFSET = int(os.environ.get("CODEX_DEV_PORT_OFFSET", "0"))


def local(port: int, path: str = "") -> str:
    """The local URL of a default port, moved by the offset."""
    return f"http://127.0.0.1:{port + OFFSET}{path}"


RUNPOD_KEY = "local-dev-key"
# The suite's processes, in start order. Ports are ARCHITECTURE.md's defaults.
SERVICES = [
    Service(
        "runpod-local",
        "codex_runpod_local",
        8010,
        migrate=False,
        worker=False,
        home="deploy/stand-ins",
        stand_in_for="RUNPOD_API_BASE",
        # The worker's URL guard refuses loopback unless allowed: the local S3 server is on 127.0.0.1.
        extra={
            "CODEX_RUNPOD_LOCAL_API_KEY": RUNPOD_KEY,
            "CODEX_RUNPOD_LOCAL_WORKER_ENV_JSON": '{"CODEX_GPU_URL_ALLOW": "127.0.0.1,localhost"}',
        },
    ),
    Service(
        "stripe-local",
        "codex_stripe_local",
        8011,
        migrate=False,
        worker=False,
        home="deploy/stand-ins",
        stand_in_for="STRIPE_API_BASE",
        extra={"CODEX_STRIPE_LOCAL_WEBHOOK_URL": local(8005, "/webhooks/stripe")},
    ),
    Service("auth", "codex_auth", 8001, extra={"CODEX_AUTH_REQUIRE_EMAIL_VERIFICATION": "false"}),
    Service("catalog", "codex_catalog", 8002),
    Service(
        "upload",
        "codex_upload",
        8003,
        after_migrate=("configure-bucket",),
        # Multipart from 8 MiB (production: 64 MiB), so that `make demo` shows it with a small file.
        extra={
            "CODEX_UPLOAD_SINGLE_PUT_MAX_BYTES": str(8 * 1024 * 1024),
            "CODEX_UPLOAD_PART_SIZE_BYTES": str(5 * 1024 * 1024),
        },
    ),
    Service(
        "media-dispatch",
        "codex_media_dispatch",
        8004,
        extra={"CODEX_MEDIA_DISPATCH_PUBLIC_URL": local(8004)},
    ),
    Service("purchase", "codex_purchase", 8005),
]
STAND_IN_ENV = {
    "RUNPOD_API_BASE": {
        "RUNPOD_API_BASE": local(8010, "/v2"),
        "RUNPOD_API_KEY": RUNPOD_KEY,
        "RUNPOD_ENDPOINT_ID": "codex-transcode",
    },
    "STRIPE_API_BASE": {
        "STRIPE_API_BASE": local(8011),
        "STRIPE_SECRET_KEY": "sk_test_codex_local",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_codex_local",
        "STRIPE_WEBHOOK_SECRET": "whsec_codex_local_development_secret",
    },
}
GATEWAY_PORT = 8080 + OFFSET


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 2):
            return True
    except OSError:
        return False


def free_port(preferred: int) -> int:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("ENVIRONMENT", "development")
    env.setdefault("LOG_FORMAT", "console")
    env.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    env.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("S3_BUCKET", "codex-media")
    env.setdefault("S3_REGION", "us-east-1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("JWKS_URL", local(8001, "/.well-known/jwks.json"))
    gateway = f"http://localhost:{GATEWAY_PORT}"
    env.setdefault("CORS_ORIGINS", f"{gateway},http://127.0.0.1:{GATEWAY_PORT}")
    env.setdefault("APP_URL", gateway)
    for name, port in (("AUTH", 8001), ("CATALOG", 8002), ("UPLOAD", 8003), ("MEDIA_DISPATCH", 8004)):
        env.setdefault(f"CODEX_GATEWAY_{name}_URL", local(port))
    env.setdefault("CODEX_GATEWAY_PURCHASE_URL", local(8005))
    env.setdefault("CODEX_GATEWAY_STRIPE_LOCAL_URL", local(8011))
    return env


class Supervisor:
    """Runs labelled child processes, interleaves their output, and stops them all together."""

    def __init__(self) -> None:
        self.children: list[tuple[str, asyncio.subprocess.Process]] = []
        self.pumps: set[asyncio.Task[None]] = set()
        self.width = max(len(s.name) for s in SERVICES) + 7

    def label(self, name: str) -> str:
        colour = COLOURS[sum(map(ord, name)) % len(COLOURS)]
        tag = name.ljust(self.width)
        return f"\033[{colour}m{tag}\033[0m |" if sys.stdout.isatty() else f"{tag} |"

    async def start(self, name: str, argv: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append((name, proc))
        pump = asyncio.create_task(self.pump(name, proc))
        self.pumps.add(pump)  # the loop keeps only weak references to tasks
        pump.add_done_callback(self.pumps.discard)
        return proc

    async def pump(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        prefix = self.label(name)
        async for line in proc.stdout:
            sys.stdout.write(f"{prefix} {line.decode(errors='replace').rstrip()}\n")
            sys.stdout.flush()
        code = await proc.wait()
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):
            sys.stdout.write(f"{prefix} exited with status {code}\n")

    async def run_once(self, name: str, argv: list[str], env: dict[str, str]) -> int:
        proc = await self.start(name, argv, env)
        code = await proc.wait()
        self.children.remove((name, proc))
        return code

    async def stop(self) -> None:
        for _, proc in self.children:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.children:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)


async def start_s3(sup: Supervisor, env: dict[str, str]) -> str | None:
    """moto's S3 server where no S3 endpoint is configured; returns its URL, or None if one is."""
    if env.get("S3_ENDPOINT_URL"):
        return None
    port = free_port(9000 + OFFSET)
    url = f"http://127.0.0.1:{port}"
    moto = shutil.which("moto_server", path=str(Path(PYTHON).parent)) or "moto_server"
    await sup.start("s3 (moto)", [moto, "-H", "127.0.0.1", "-p", str(port)], env)
    for _ in range(50):
        if reachable(url, port):
            break
        await asyncio.sleep(0.2)
    env["S3_ENDPOINT_URL"] = url
    env.setdefault("S3_ACCESS_KEY_ID", "codex-dev")
    env.setdefault("S3_SECRET_ACCESS_KEY", "codex-dev-secret")
    import boto3  # only here: the S3 bucket for local use

    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=env["S3_REGION"],
        aws_access_key_id=env["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket=env["S3_BUCKET"])
    return url


def check_dependencies(env: dict[str, str]) -> list[str]:
    problems = []
    for var, port, hint in [
        ("DATABASE_URL", 5432, "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"),
        ("AMQP_URL", 5672, "rabbitmq-server -detached"),
        ("REDIS_URL", 6379, "redis-server --daemonize yes --port 6379 --save ''"),
    ]:
        if not reachable(env[var], port):
            host = urlsplit(env[var]).hostname
            problems.append(
                f"{var} ({host}:{urlsplit(env[var]).port or port}) is not reachable; start it: {hint}"
            )
    return problems


async def main() -> int:
    env = base_env()
    problems = check_dependencies(env)
    if problems:
        for line in problems:
            print(f"make dev: {line}", file=sys.stderr)
        return 1
    sup = Supervisor()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    table: list[tuple[str, str]] = []
    try:
        s3 = await start_s3(sup, env)
        table.append(
            ("S3", f"{env['S3_ENDPOINT_URL']} (bucket {env['S3_BUCKET']})" + (" [moto]" if s3 else ""))
        )
        present = [s for s in SERVICES if s.present]
        for svc in present:
            if svc.stand_in_for is not None:
                if env.get(svc.stand_in_for):
                    table.append((svc.name, f"not started: {svc.stand_in_for} is set"))
                    continue
                env.update(STAND_IN_ENV[svc.stand_in_for])
            svc_port = svc.port + OFFSET
            svc_env = {**env, **svc.extra, "PORT": str(svc_port)}
            cli = [PYTHON, "-m", f"{svc.module}.cli"]
            if svc.migrate and await sup.run_once(f"{svc.name} migrate", [*cli, "migrate"], svc_env) != 0:
                print(f"make dev: migrating {svc.name} failed; see its lines above", file=sys.stderr)
                return 1
            for command in svc.after_migrate:
                if await sup.run_once(f"{svc.name} {command}", [*cli, command], svc_env) != 0:
                    print(f"make dev: {svc.name} {command} failed; see its lines above", file=sys.stderr)
                    return 1
            await sup.start(svc.name, [*cli, "serve", "--port", str(svc_port)], svc_env)
            if svc.worker:
                await sup.start(f"{svc.name} worker", [*cli, "worker"], svc_env)
            table.append((svc.name, f"http://127.0.0.1:{svc_port}  (docs: /docs)"))
        await sup.start("gateway", [PYTHON, "deploy/gateway/local.py", "--port", str(GATEWAY_PORT)], env)
        table.insert(0, ("gateway", f"http://localhost:{GATEWAY_PORT}  (the console and every API)"))
        absent = [s.name for s in SERVICES if not s.present]
        print("\nCodex is running. Ctrl-C stops everything.")
        for name, where in table:
            print(f"  {name:<16} {where}")
        redacted = urlsplit(env["AMQP_URL"])
        print(f"  {'RabbitMQ':<16} {redacted.hostname}:{redacted.port or 5672}")
        print(f"  {'Postgres':<16} {urlsplit(env['DATABASE_URL']).hostname}:5432")
        if absent:
            print(f"  not built yet: {', '.join(absent)}")
        print(flush=True)
        await stop.wait()
        return 0
    finally:
        print("\nmake dev: stopping…", flush=True)
        await sup.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
