"""The HTTP side served by uvicorn: RunPod's webhook (secret, speed, idempotence) and the asset routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from media_dispatch_support import FakeRunpod, asset_of, deliver, events, upload_completed, worker_output

from codex_media_dispatch.app import create_app
from codex_media_dispatch.bootstrap import Deps
from codex_media_dispatch.dispatch import submit_waiting
from codex_media_dispatch.settings import MediaDispatchSettings
from codex_platform.testing import TokenIssuer, bearer, serve


async def wait_for_state(deps: Deps, upload_id: str, state: str, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        asset = await asset_of(deps.pool, upload_id)
        if asset["state"] == state:
            return asset
        await asyncio.sleep(0.05)
    raise AssertionError(f"asset stayed {asset['state']}, expected {state}")


async def test_webhook_secret_speed_and_idempotence_and_the_asset_routes(
    deps: Deps,
    fake_runpod: FakeRunpod,
    settings_factory: Callable[..., MediaDispatchSettings],
    token_issuer: TokenIssuer,
) -> None:
    owner = "creator-1"
    upload = upload_completed(deps.storage.bucket, owner_id=owner)
    await deliver(deps, upload)
    await submit_waiting(deps)
    [run] = fake_runpod.runs
    webhook = urlsplit(run["webhook"])
    token = parse_qs(webhook.query)["token"][0]
    asset = await asset_of(deps.pool, upload.upload_id)
    output = await worker_output(deps.storage, asset["id"], asset["job_id"])
    body = {
        "id": run["id"],
        "status": "COMPLETED",
        "executionTime": 3000,
        "output": output,
        "input": run["input"],
    }

    app = create_app(
        settings_factory(), pool=deps.pool, storage=deps.storage, runpod_transport=fake_runpod.transport
    )
    async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        path = webhook.path
        for wrong in ("", token[:-1] + ("A" if token[-1] != "A" else "B"), "x" * 43):
            refused = await client.post(path, params={"token": wrong}, json=body)
            assert refused.status_code == 401, refused.text
        missing = await client.post("/webhooks/runpod/job_unknown", params={"token": token}, json=body)
        assert missing.status_code == 401
        no_token = await client.post(path, json=body)
        assert no_token.status_code == 400
        await asyncio.sleep(0.2)
        assert (await asset_of(deps.pool, upload.upload_id))["state"] == "submitted"
        assert await events(deps.pool) == []

        started = time.perf_counter()
        accepted = await client.post(path, params={"token": token}, json=body)
        assert accepted.status_code == 200 and time.perf_counter() - started < 0.5
        again = await client.post(path, params={"token": token}, json=body)  # RunPod's duplicate
        assert again.status_code == 200
        await wait_for_state(deps, upload.upload_id, "ready")
        await asyncio.sleep(0.2)
        assert len(await events(deps.pool, "media.asset.ready.v1")) == 1

        creator = token_issuer.token(role="creator", user_id=owner)
        other = token_issuer.token(role="creator")
        admin = token_issuer.token(role="admin")
        shown = await client.get(f"/assets/{asset['id']}", headers=bearer(creator))
        assert shown.status_code == 200, shown.text
        view = shown.json()
        assert view["state"] == "ready" and view["attempts"] == 1 and view["gpu_seconds"] == 3.0
        assert view["estimated_cost_usd"] == round(3.0 * 0.00031, 6)
        assert view["encoder"] == "libx264" and view["renditions"][0]["name"] == "720p"
        assert view["timings"]["time_to_ready_s"] > 0 and "720p" in view["headline"]
        assert (await client.get(f"/assets/{asset['id']}", headers=bearer(other))).status_code == 404
        assert (await client.get(f"/assets/{asset['id']}", headers=bearer(admin))).status_code == 200
        assert (await client.get(f"/assets/{asset['id']}")).status_code == 401

        found = await client.get("/assets", params={"upload_id": upload.upload_id}, headers=bearer(creator))
        assert [a["id"] for a in found.json()["items"]] == [asset["id"]]
        assert (await client.get("/assets", headers=bearer(other))).json()["items"] == []
        filtered = await client.get("/assets", params={"state": "failed"}, headers=bearer(admin))
        assert filtered.json()["items"] == []
        bad = await client.get("/assets", params={"cursor": "nonsense!"}, headers=bearer(admin))
        assert bad.status_code == 400

        # admin: cancel a second upload's asset while it waits, then retry it
        second = upload_completed(deps.storage.bucket, owner_id=owner)
        await deliver(deps, second)
        queued = await asset_of(deps.pool, second.upload_id)
        url = f"/assets/{queued['id']}"
        assert (await client.post(f"{url}/cancel", headers=bearer(creator))).status_code == 403
        cancelled = await client.post(f"{url}/cancel", headers=bearer(admin))
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "canceled"
        assert (await client.post(f"{url}/cancel", headers=bearer(admin))).status_code == 409
        [failed] = await events(deps.pool, "media.asset.failed.v1")
        assert failed["error_code"] == "CANCELED" and failed["upload_id"] == second.upload_id
        retried = await client.post(f"{url}/retry", headers=bearer(admin))
        assert retried.status_code == 200 and retried.json()["state"] == "queued"
        assert (await client.post(f"/assets/{asset['id']}/retry", headers=bearer(admin))).status_code == 409
        assert (await client.post("/assets/nope/retry", headers=bearer(admin))).status_code == 404

        # the page's cursor walks every asset once
        first_page = (await client.get("/assets", params={"limit": 1}, headers=bearer(creator))).json()
        cursor = first_page["next_cursor"]
        second_page = (
            await client.get("/assets", params={"limit": 1, "cursor": cursor}, headers=bearer(creator))
        ).json()
        assert {first_page["items"][0]["id"], second_page["items"][0]["id"]} == {asset["id"], queued["id"]}
        assert second_page["next_cursor"] is None
