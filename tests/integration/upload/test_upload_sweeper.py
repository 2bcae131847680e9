"""The sweeper: completes single-PUT uploads nobody completed, expires stale ones and cleans the store,
with two sweepers running at once (as two worker replicas do) and never doing one upload twice."""

from __future__ import annotations

import asyncio
import os

from upload_harness import PART, UploadHarness

from codex_upload.sweeper import Sweep, sweep_once

VIDEO = os.urandom(2048)


async def make_due(service: UploadHarness, *upload_ids: str, expired: bool = False) -> None:
    """Bring the sweeper's next look at these uploads (and, with `expired`, their expiry) to now."""
    expiry = "now() - interval '1 second'" if expired else "expires_at"
    await service.sql(
        f"UPDATE uploads SET sweep_at = now(), expires_at = {expiry} WHERE id = ANY($1::uuid[])",  # noqa: S608
        list(upload_ids),
    )


async def test_two_sweepers_complete_expire_and_clean_each_upload_once(upload_service: UploadHarness) -> None:
    service = upload_service
    creator = service.client()
    left = await service.start(creator, len(VIDEO))  # bytes in, complete never called
    await service.put(left, VIDEO)
    short = await service.start(creator, len(VIDEO))  # bytes in, but fewer than declared
    await service.put(short, VIDEO[:100])
    waiting = await service.start(creator, len(VIDEO))  # nothing yet, not expired
    stale = await service.start(creator, len(VIDEO))  # nothing, expired
    big = await service.start(creator, 2 * PART + 1)  # multipart with one part, expired
    urls = await service.part_urls(creator, big["upload_id"], [1])
    await service.put_part(urls[1], os.urandom(PART))
    ids = [t["upload_id"] for t in (left, short, waiting, stale, big)]
    await make_due(service, *ids[:3])
    await make_due(service, *ids[3:], expired=True)

    sweeps: list[Sweep] = await asyncio.gather(sweep_once(service.deps), sweep_once(service.deps))

    outcome: dict[str, list[str]] = {}
    for sweep in sweeps:
        for name in ("completed", "failed", "expired", "cleaned", "waiting"):
            for upload_id in getattr(sweep, name):
                outcome.setdefault(upload_id, []).append(name)
    assert outcome == {
        left["upload_id"]: ["completed"],
        short["upload_id"]: ["failed"],
        waiting["upload_id"]: ["waiting"],
        stale["upload_id"]: ["expired"],
        big["upload_id"]: ["expired"],
    }
    assert [await service.state(i) for i in ids] == ["completed", "failed", "pending", "expired", "expired"]
    [event] = await service.events()
    assert event["upload_id"] == left["upload_id"]
    assert await service.storage.head(f"videos/original/{short['upload_id']}.mp4") is None
    listed = await service.storage.client.list_multipart_uploads(Bucket=service.storage.bucket)
    assert listed.get("Uploads", []) == []
    # The owner sees what the sweeper did; completing the auto-completed upload answers the same.
    done = await creator.post(f"/uploads/{left['upload_id']}/complete")
    assert done.status_code == 200
    assert done.json()["state"] == "completed"
    assert len(await service.events()) == 1
    # Nothing is due any more: a second round finds nothing.
    assert (await sweep_once(service.deps)).claimed == 0


async def test_bytes_put_after_an_abort_are_deleted_once_the_url_can_no_longer_be_used(
    upload_service: UploadHarness,
) -> None:
    service = upload_service
    creator = service.client()
    ticket = await service.start(creator, len(VIDEO))
    assert (await creator.delete(f"/uploads/{ticket['upload_id']}")).status_code == 204
    await service.put(ticket, VIDEO)  # the URL is still valid: a store cannot revoke it
    key = f"videos/original/{ticket['upload_id']}.mp4"
    assert await service.storage.head(key) is not None
    assert (await sweep_once(service.deps)).claimed == 0  # not yet: the URL may still be used
    await make_due(service, ticket["upload_id"])
    sweep = await sweep_once(service.deps)
    assert sweep.cleaned == [ticket["upload_id"]]
    assert await service.storage.head(key) is None
    assert await service.state(ticket["upload_id"]) == "aborted"
    assert await service.events() == []
