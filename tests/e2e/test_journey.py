"""The whole journey, every process real: `deploy/dev.py` starts the five services' APIs and workers,
the RunPod stand-in with the GPU worker on CPU, the Stripe stand-in, moto and the gateway, on ports of
their own and in a database of their own; the journey of `make demo` then runs over HTTP."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

from journey import story  # noqa: E402
from journey.steps import PASSWORD, Actor, Journey  # noqa: E402
from journey.suite import running_suite  # noqa: E402


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_journey_from_sign_up_to_refund(database_url: str, queue_prefix: str, tmp_path: Path) -> None:
    with running_suite(database_url, queue_prefix, tmp_path) as suite:
        admin = Actor("Admin", "admin-e2e@example.com")
        suite.create_admin(admin.email, PASSWORD)
        said: list[str] = []
        journey = Journey(
            suite.gateway, suite.stripe, "sk_test_codex_local", say=said.append, origin=suite.gateway
        )
        try:
            timings = story.run(journey, admin, tmp_path, multipart_bytes=12 * 1024 * 1024)
        finally:
            journey.close()
            print("\n".join(said))
    assert any("720p.mp4: h264" in line for line in said)
    assert any("before paying, playback answers 403" in line for line in said)
    assert any("playback now answers 403" in line for line in said)
    assert timings["upload_to_playback_s"] > 0
