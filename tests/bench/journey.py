"""The journey's own overhead: from `upload complete` to `playback URL served` for a 10 s 1080p clip on
the CPU, beside the worker's transcode time for the same clip (the rest is the suite's: events, webhook
or reconciler, projections, the purchase). One run of a suite started for it (deploy/journey/suite.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

from journey import story  # noqa: E402
from journey.steps import PASSWORD, Actor, Journey  # noqa: E402
from journey.suite import running_suite  # noqa: E402

from codex_platform.testing.queues import delete_prefixed  # noqa: E402


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    prefix = f"bench-journey-{os.getpid()}."
    with (
        tempfile.TemporaryDirectory(prefix="codex-bench-journey-") as workdir,
        running_suite(database_url, prefix, Path(workdir)) as suite,
    ):
        admin = Actor("Admin", "admin-bench@example.com")
        suite.create_admin(admin.email, PASSWORD)
        journey = Journey(
            suite.gateway, suite.stripe, "sk_test_codex_local", say=lambda _: None, origin=suite.gateway
        )
        try:
            timings = story.run(journey, admin, Path(workdir))
        finally:
            journey.close()
    delete_prefixed(amqp_url, prefix)
    total, worker = timings["upload_to_playback_s"], timings["worker_gpu_s"]
    print("journey, 10 s 1080p clip on the CPU (libx264), one run:")
    print(f"  upload complete -> asset ready        {timings['upload_to_ready_s']:7.1f} s")
    print(f"  upload complete -> playback URL served {total:7.1f} s (includes publishing and buying)")
    print(f"  worker's own transcode (GPU-s billed)  {worker:7.1f} s")
    print(f"  the suite's overhead to ready         {timings['upload_to_ready_s'] - worker:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
