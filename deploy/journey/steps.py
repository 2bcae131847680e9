"""The journey's steps, each one HTTP exchange (or a few) as a frontend or an operator would make them.

Every step says what it shows; the first refusal stops the journey with `StepFailed`, naming the step
and the answer it got.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from journey.clips import describe

PASSWORD = "a long demo passphrase"  # noqa: S105  (accounts the journey makes for itself)


class StepFailed(Exception):
    """A step got an answer it did not expect; the message names the step and the answer."""


@dataclass
class Actor:
    """Someone using the suite: their address, user id and current access token."""

    name: str
    email: str
    user_id: str = ""
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Journey:
    """The suite as a frontend sees it: one origin (`base`, the gateway), plus the Stripe API the page
    pays through (`stripe_base`, with its publishable key)."""

    base: str
    stripe_base: str
    stripe_secret_key: str
    say: Callable[[str], None] = print
    origin: str = "http://localhost:8080"
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))

    def __post_init__(self) -> None:
        # The Origin header is the one a page on the gateway's origin sends (the CSRF check reads it).
        self.http = httpx.Client(base_url=self.base, timeout=30.0, headers={"Origin": self.origin})

    def close(self) -> None:
        self.http.close()

    def expect(self, step: str, answer: httpx.Response, *statuses: int) -> Any:
        if answer.status_code not in statuses:
            raise StepFailed(
                f"{step}: {answer.request.method} {answer.request.url.path} answered "
                f"{answer.status_code}: {answer.text[:500]}"
            )
        return answer.json() if answer.content and "json" in answer.headers.get("content-type", "") else None

    # Accounts ------------------------------------------------------------------------------------

    def sign_up(self, name: str) -> Actor:
        actor = Actor(name, f"{name.lower()}-{self.run_id}@example.com")
        body = {"email": actor.email, "password": PASSWORD, "display_name": f"{name} {self.run_id}"}
        self.expect(f"sign up {name}", self.http.post("/auth/signup", json=body), 202)
        self.log_in(actor)
        me = self.expect(f"{name} reads /auth/me", self.http.get("/auth/me", headers=actor.auth), 200)
        actor.user_id = me["id"]
        return actor

    def log_in(self, actor: Actor, password: str = PASSWORD) -> None:
        answer = self.http.post("/auth/login", json={"email": actor.email, "password": password})
        actor.token = self.expect(f"log in {actor.name}", answer, 200)["access_token"]

    def make_creator(self, admin: Actor, actor: Actor) -> None:
        path = f"/auth/users/{actor.user_id}/role"
        answer = self.http.patch(path, json={"role": "creator"}, headers=admin.auth)
        self.expect(f"admin makes {actor.name} a creator", answer, 200)
        self.log_in(actor)  # a new access token carries the new role

    # Uploads -------------------------------------------------------------------------------------

    def upload(self, creator: Actor, path: Path) -> str:
        size = path.stat().st_size
        declared = {"filename": path.name, "content_type": "video/mp4", "size_bytes": size}
        ticket = self.expect(
            "create the upload", self.http.post("/uploads", json=declared, headers=creator.auth), 201
        )
        upload_id = ticket["upload_id"]
        if ticket["method"] == "put":
            with path.open("rb") as body:
                stored = httpx.put(ticket["url"], content=body.read(), headers=ticket["headers"], timeout=120)
            if stored.status_code != 200:
                raise StepFailed(
                    f"PUT the file to the object store: {stored.status_code} {stored.text[:300]}"
                )
            self.say(f"   PUT {size:,} bytes straight to the object store (presigned URL)")
            complete: dict[str, Any] = {}
        else:
            numbers = list(range(1, ticket["part_count"] + 1))
            urls = self.expect(
                "ask for part URLs",
                self.http.post(
                    f"/uploads/{upload_id}/parts", json={"part_numbers": numbers}, headers=creator.auth
                ),
                200,
            )
            parts = []
            with path.open("rb") as source:
                for part in urls["parts"]:
                    chunk = source.read(part["size_bytes"])
                    stored = httpx.put(part["url"], content=chunk, timeout=120)
                    if stored.status_code != 200:
                        raise StepFailed(
                            f"PUT part {part['number']}: {stored.status_code} {stored.text[:300]}"
                        )
                    parts.append({"number": part["number"], "etag": stored.headers["ETag"]})
            self.say(
                f"   multipart: {len(parts)} parts of {ticket['part_size']:,} bytes, each PUT to its own URL"
            )
            complete = {"parts": parts}
        done = self.expect(
            "complete the upload",
            self.http.post(f"/uploads/{upload_id}/complete", json=complete, headers=creator.auth),
            200,
        )
        self.say(
            f"   upload {upload_id}: {done['state']} (verified in the store: {done['size_bytes']:,} bytes)"
        )
        return str(upload_id)

    def wait_for_asset(self, creator: Actor, upload_id: str, timeout_s: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        shown = ""
        while time.monotonic() < deadline:
            page = self.expect(
                "find the upload's asset",
                self.http.get("/assets", params={"upload_id": upload_id}, headers=creator.auth),
                200,
            )
            if page["items"]:
                asset = page["items"][0]
                percent = (asset.get("progress") or {}).get("percent") or 0
                line = f"   [{'#' * int(percent // 5):<20}] {percent:5.1f}% {asset['state']}"
                if line != shown:
                    self.say(line)
                    shown = line
                if asset["state"] == "ready":
                    return dict(asset)
                if asset["state"] in ("failed", "canceled"):
                    raise StepFailed(
                        f"transcode: asset {asset['id']} {asset['state']}: {asset.get('error_message')}"
                    )
            time.sleep(1)
        raise StepFailed(f"transcode: the asset of upload {upload_id} was not ready within {timeout_s:.0f} s")

    # Catalog -------------------------------------------------------------------------------------

    def create_content(self, creator: Actor, upload_id: str, *, price_cents: int, word: str) -> str:
        body = {
            "title": f"Sunrise over the lake {self.run_id}",
            "description": f"A calm {word} morning, filmed for the Codex demo {self.run_id}.",
            "price_cents": price_cents,
            "currency": "EUR",
            "upload_id": upload_id,
        }
        content = self.expect(
            "create the content", self.http.post("/content", json=body, headers=creator.auth), 201
        )
        return str(content["id"])

    def publish(self, creator: Actor, content_id: str, timeout_s: float = 60) -> dict[str, Any]:
        self.expect(
            "publish", self.http.post(f"/content/{content_id}/publish", headers=creator.auth), 200, 202
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            content = self.expect(
                "read the content", self.http.get(f"/content/{content_id}", headers=creator.auth), 200
            )
            if content["status"] == "published":
                return dict(content)
            time.sleep(0.5)
        raise StepFailed(
            f"publish: content {content_id} is still {content['status']} after {timeout_s:.0f} s"
        )

    def search(self, word: str, content_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            page = self.expect("search the listing", self.http.get("/content", params={"q": word}), 200)
            found = [item for item in page["items"] if item["id"] == content_id]
            if found:
                return dict(found[0])
            time.sleep(0.5)
        raise StepFailed(f"search: q={word!r} did not find content {content_id}")

    # Purchase ------------------------------------------------------------------------------------

    def buy(self, customer: Actor, content_id: str, card: str = "pm_card_visa") -> dict[str, Any]:
        # The purchase service learns the price from catalog's event: a second after publishing, it may
        # not have it yet (409); a frontend retries as here.
        deadline = time.monotonic() + 20
        while True:
            answer = self.http.post("/purchases", json={"content_id": content_id}, headers=customer.auth)
            if answer.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        started = self.expect("start the purchase", answer, 200, 201)
        intent_id = started["client_secret"].split("_secret_")[0]
        # What Stripe.js does in the page: confirm with the publishable key and the client secret.
        confirmed = httpx.post(
            f"{self.stripe_base}/v1/payment_intents/{intent_id}/confirm",
            data={"payment_method": card, "client_secret": started["client_secret"]},
            auth=(started["publishable_key"], ""),
            timeout=30,
        )
        if confirmed.status_code != 200:
            raise StepFailed(f"pay with {card}: {confirmed.status_code} {confirmed.text[:300]}")
        self.say(
            f"   paid {started['amount'] / 100:.2f} {started['currency'].upper()} with {card} "
            f"(PaymentIntent {intent_id}: {confirmed.json()['status']})"
        )
        return dict(started)

    def wait_for_purchase(
        self, customer: Actor, purchase_id: str, status: str, timeout_s: float = 60
    ) -> None:
        deadline = time.monotonic() + timeout_s
        seen = None
        while time.monotonic() < deadline:
            seen = self.expect(
                "poll the purchase", self.http.get(f"/purchases/{purchase_id}", headers=customer.auth), 200
            )["status"]
            if seen == status:
                return
            time.sleep(0.5)
        raise StepFailed(f"purchase {purchase_id} is {seen}, not {status}, after {timeout_s:.0f} s")

    def refund(self, intent_id: str) -> None:
        # What an operator does in Stripe's dashboard; Stripe then tells the purchase service.
        answer = httpx.post(
            f"{self.stripe_base}/v1/refunds",
            data={"payment_intent": intent_id},
            auth=(self.stripe_secret_key, ""),
            timeout=30,
        )
        if answer.status_code != 200:
            raise StepFailed(f"refund: {answer.status_code} {answer.text[:300]}")

    # Playback ------------------------------------------------------------------------------------

    def playback(self, customer: Actor, content_id: str, *expected: int) -> httpx.Response:
        answer = self.http.get(f"/content/{content_id}/playback", headers=customer.auth)
        self.expect(f"playback for {customer.name}", answer, *expected)
        return answer

    def wait_for_playback(self, customer: Actor, content_id: str, status: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.http.get(f"/content/{content_id}/playback", headers=customer.auth).status_code == status:
                return
            time.sleep(0.5)
        raise StepFailed(f"playback for {customer.name} did not answer {status} within {timeout_s:.0f} s")

    def download_and_check(self, playback: dict[str, Any], name: str, workdir: Path) -> dict[str, object]:
        (rendition,) = [r for r in playback["renditions"] if r["name"] == name]
        target = workdir / f"{name}.mp4"
        with httpx.stream("GET", rendition["url"], timeout=120) as answer:
            if answer.status_code != 200:
                raise StepFailed(f"download {name}: {answer.status_code}")
            with target.open("wb") as out:
                for chunk in answer.iter_bytes():
                    out.write(chunk)
        facts = describe(target)
        if facts["codec"] != "h264" or "mp4" not in str(facts["container"]):
            raise StepFailed(f"{name} rendition is not an H.264 MP4: {facts}")
        if (facts["width"], facts["height"]) != (rendition["width"], rendition["height"]):
            raise StepFailed(
                f"{name} rendition is {facts['width']}x{facts['height']}, "
                f"the catalog says {rendition['width']}x{rendition['height']}"
            )
        return facts
