"""The journey in order, narrated: from an admin making a creator to a refund that ends playback."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from journey.clips import noisy_clip, pattern_clip
from journey.steps import Actor, Journey, StepFailed

SEARCH_WORD = "misty"


def run(
    journey: Journey, admin: Actor, workdir: Path, *, multipart_bytes: int | None = None
) -> dict[str, float]:
    """Run every step; returns timings (seconds) of the parts a benchmark reports. Raises `StepFailed`."""
    say = journey.say
    step = _Steps(say)
    timings: dict[str, float] = {}

    step("An admin signs in")
    journey.log_in(admin)
    say(f"   {admin.email} holds an admin access token")

    step("A new account becomes a creator")
    creator = journey.sign_up("Creator")
    journey.make_creator(admin, creator)
    say(f"   {creator.email} (user {creator.user_id}) now signs in as a creator")

    step("The creator uploads a 10 s 1080p video with a presigned PUT")
    clip = pattern_clip(workdir / "sunrise.mp4")
    upload_id = journey.upload(creator, clip)
    uploaded_at = time.monotonic()

    if multipart_bytes:
        step("…and a larger one by multipart upload, part by part")
        big = noisy_clip(workdir / "noise.mp4", min_bytes=multipart_bytes)
        journey.upload(creator, big)

    step("The creator creates the content, with a price")
    content_id = journey.create_content(creator, upload_id, price_cents=499, word=SEARCH_WORD)
    say(f"   content {content_id}: a draft at 4.99 EUR, linked to upload {upload_id}")

    step("The GPU worker transcodes it (RunPod endpoint), progress from the asset")
    asset = journey.wait_for_asset(creator, upload_id)
    timings["upload_to_ready_s"] = time.monotonic() - uploaded_at
    names = ", ".join(f"{r['name']} {r['width']}x{r['height']}" for r in asset["renditions"])
    say(f"   asset {asset['id']} ready: {names}; encoder {asset.get('encoder')}; {asset['headline']}")
    timings["worker_gpu_s"] = float(asset.get("gpu_seconds") or 0)

    step("The creator publishes it")
    content = journey.publish(creator, content_id)
    say(f"   published at {content['published_at']}")

    step(f"A customer signs up and finds it by a word of its description ({SEARCH_WORD!r})")
    customer = journey.sign_up("Customer")
    found = journey.search(SEARCH_WORD, content_id)
    say(f"   found {found['title']!r} by {found.get('creator_name')}")
    refused = journey.playback(customer, content_id, 403)
    say(f"   before paying, playback answers {refused.status_code}")

    step("The customer buys it through Stripe (the stand-in) with a test card")
    purchase = journey.buy(customer, content_id)
    journey.wait_for_purchase(customer, purchase["purchase_id"], "completed")
    say(f"   purchase {purchase['purchase_id']} completed (webhook verified, access granted)")

    step("The customer asks for playback and downloads the 720p rendition")
    journey.wait_for_playback(customer, content_id, 200)
    playback = journey.playback(customer, content_id, 200).json()
    timings["upload_to_playback_s"] = time.monotonic() - uploaded_at
    facts = journey.download_and_check(playback, "720p", workdir)
    say(f"   {len(playback['renditions'])} presigned URLs, valid until {playback['expires_at']}")
    say(
        f"   720p.mp4: {facts['codec']} in {facts['container']}, {facts['width']}x{facts['height']}, "
        f"{facts['duration_s']} s"
    )

    step("A second customer who did not pay is refused playback")
    other = journey.sign_up("Stranger")
    answer = journey.playback(other, content_id, 403)
    say(f"   {answer.status_code}: {answer.json().get('detail')}")

    step("A refund in Stripe revokes the first customer's access")
    intent_id = purchase["client_secret"].split("_secret_")[0]
    journey.refund(intent_id)
    journey.wait_for_purchase(customer, purchase["purchase_id"], "refunded")
    journey.wait_for_playback(customer, content_id, 403)
    say("   purchase refunded; playback now answers 403")
    return timings


class _Steps:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.number = 0

    def __call__(self, title: str) -> None:
        self.number += 1
        self.say(f"\n{self.number:>2}. {title}")


__all__ = ["StepFailed", "run"]
