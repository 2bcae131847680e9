"""`make demo`: the whole journey over HTTP, narrated, against `make dev` (started here when not running).

An admin (made here with auth's create-admin) turns a new account into a creator; the creator uploads a
generated 10 s video (presigned PUT) and a larger one (multipart), creates content with a price, waits
for the transcode and publishes; a customer finds it by a word, buys it through the Stripe stand-in,
gets playback URLs and checks the 720p rendition with PyAV; a stranger is refused; a refund ends access.
Exits non-zero at the first failure, naming the step and the answer it got.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))

from journey import story  # noqa: E402
from journey.steps import PASSWORD, Actor, Journey, StepFailed  # noqa: E402

OFFSET = int(os.environ.get("CODEX_DEV_PORT_OFFSET", "0"))  # as deploy/dev.py moves its ports
PORTS = {"auth": 8001, "catalog": 8002, "upload": 8003, "media-dispatch": 8004, "purchase": 8005}
READY = {name: f"http://127.0.0.1:{port + OFFSET}/readyz" for name, port in PORTS.items()}


def not_ready(gateway: str) -> list[str]:
    waiting = []
    for name, url in {**READY, "gateway": f"{gateway}/.well-known/jwks.json"}.items():
        try:
            if httpx.get(url, timeout=2).status_code != 200:
                waiting.append(name)
        except httpx.HTTPError:
            waiting.append(name)
    return waiting


def ensure_running(gateway: str, timeout_s: float = 180) -> subprocess.Popen[bytes] | None:
    """Start `make dev` in the background when the suite does not answer; wait until it is ready."""
    if not not_ready(gateway):
        print("Using the running `make dev`.")
        return None
    log = ROOT / ".dev" / "demo-make-dev.log"
    log.parent.mkdir(exist_ok=True)
    print(f"Starting `make dev` (its output: {log.relative_to(ROOT)})…", flush=True)
    process = subprocess.Popen(
        ["make", "dev"], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        waiting = not_ready(gateway)
        if not waiting:
            return process
        if process.poll() is not None:
            raise SystemExit(f"make dev exited with {process.returncode}; see {log}")
        time.sleep(1)
    raise SystemExit(
        f"make dev was not ready after {timeout_s:.0f} s (waiting for {', '.join(waiting)}); see {log}"
    )


def create_admin(run_id: str) -> Actor:
    """An admin for this run, through auth's own command (the password never on a command line)."""
    admin = Actor("Admin", f"admin-{run_id}@example.com")
    env = {**os.environ, "CODEX_AUTH_ADMIN_PASSWORD": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-m", "codex_auth.cli", "create-admin", "--email", admin.email],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise StepFailed(f"create the admin: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    return admin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=f"http://localhost:{8080 + OFFSET}")
    parser.add_argument(
        "--stripe", default=os.environ.get("STRIPE_API_BASE", f"http://127.0.0.1:{8011 + OFFSET}")
    )
    parser.add_argument(
        "--stripe-secret-key", default=os.environ.get("STRIPE_SECRET_KEY", "sk_test_codex_local")
    )
    parser.add_argument("--multipart-bytes", type=int, default=12 * 1024 * 1024)
    args = parser.parse_args()
    ensure_running(args.gateway)
    run_id = secrets.token_hex(3)
    journey = Journey(args.gateway, args.stripe, args.stripe_secret_key, origin=args.gateway, run_id=run_id)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="codex-demo-") as workdir:
            timings = story.run(
                journey, create_admin(run_id), Path(workdir), multipart_bytes=args.multipart_bytes
            )
    except StepFailed as failure:
        print(f"\nFAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        journey.close()
    print(
        f"\nThe journey passed in {time.monotonic() - started:.0f} s "
        f"(upload complete → playback URL: {timings['upload_to_playback_s']:.1f} s)."
    )
    print("`make dev` keeps running: Ctrl-C in its terminal (or `pkill -f deploy/dev.py`) stops it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
