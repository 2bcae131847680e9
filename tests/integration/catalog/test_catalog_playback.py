"""GET /content/{id}/playback for each kind of caller, and a seek (Range) on the URL it gives."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import httpx
from catalog_harness import Catalog, asset_ready, purchased, refunded

from codex_platform.storage import Storage

VIDEO = bytes(range(256)) * 64  # 16 KiB that tell each offset apart


async def playback(catalog: Catalog, content_id: str, headers: dict[str, str] | None) -> httpx.Response:
    return await catalog.http.get(f"/content/{content_id}/playback", headers=headers)


async def test_who_may_play_what(catalog: Catalog) -> None:
    creator, buyer, stranger, admin = (
        catalog.person("creator"),
        catalog.person("customer"),
        catalog.person("customer"),
        catalog.person("admin"),
    )
    paid = await catalog.published_content(creator, price_cents=500)
    free = await catalog.published_content(creator, price_cents=0)
    processing = await catalog.create(creator, upload_id="up-not-yet")
    await catalog.deliver(asset_ready("up-preview", creator.id))
    unpublished = await catalog.create(creator, upload_id="up-preview")

    assert (await playback(catalog, paid["id"], None)).status_code == 401
    refused = await playback(catalog, paid["id"], stranger.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    for who in (creator, admin):
        assert (await playback(catalog, paid["id"], who.headers)).status_code == 200
    assert (await playback(catalog, free["id"], stranger.headers)).status_code == 200

    await catalog.deliver(purchased(buyer.id, paid["id"]))
    assert (await playback(catalog, paid["id"], buyer.headers)).status_code == 200
    assert (await playback(catalog, paid["id"], stranger.headers)).status_code == 403

    # The creator previews a ready video before publishing; nobody else knows it exists.
    assert (await playback(catalog, unpublished["id"], creator.headers)).status_code == 200
    assert (await playback(catalog, unpublished["id"], stranger.headers)).status_code == 404
    assert (await playback(catalog, processing["id"], creator.headers)).status_code == 409

    # Archived: out of the listings, but a buyer keeps what they paid for.
    await catalog.http.post(f"/content/{paid['id']}/archive", headers=creator.headers)
    assert (await playback(catalog, paid["id"], buyer.headers)).status_code == 200
    assert (await playback(catalog, paid["id"], stranger.headers)).status_code == 404


async def test_urls_for_each_rendition_expire_and_are_never_cached(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    content = await catalog.published_content(creator)
    response = await playback(catalog, content["id"], creator.headers)
    assert {d.strip() for d in response.headers["cache-control"].split(",")} == {"private", "no-store"}
    body = response.json()
    assert [(r["name"], r["width"], r["height"], r["bitrate"]) for r in body["renditions"]] == [
        ("1080p", 1920, 1080, 5_000_000),
        ("720p", 1280, 720, 2_500_000),
    ]
    ttl = catalog.deps.settings.playback_url_ttl_s
    for url in [r["url"] for r in body["renditions"]] + [body["thumbnail_url"]]:
        query = parse_qs(urlparse(url).query)
        assert query["X-Amz-Expires"] == [str(ttl)]
    assert urlparse(body["renditions"][0]["url"]).path.endswith(".mp4")
    assert body["duration_s"] == 4.0


async def test_a_seek_on_a_playback_url_gets_the_range(catalog: Catalog, storage: Storage) -> None:
    creator = catalog.person("creator")
    content = await catalog.published_content(creator)
    body = (await playback(catalog, content["id"], creator.headers)).json()
    key = urlparse(body["renditions"][0]["url"]).path.split(f"/{storage.bucket}/", 1)[1]
    await storage.put_bytes(key, VIDEO, content_type="video/mp4")

    async with httpx.AsyncClient() as browser:
        whole = await browser.get(body["renditions"][0]["url"])
        assert whole.status_code == 200
        assert whole.content == VIDEO
        seek = await browser.get(body["renditions"][0]["url"], headers={"Range": "bytes=1000-1999"})
    assert seek.status_code == 206
    assert seek.content == VIDEO[1000:2000]
    assert seek.headers["content-range"] == f"bytes 1000-1999/{len(VIDEO)}"
    assert seek.headers["content-type"] == "video/mp4"


async def test_access_follows_the_latest_purchase_event_in_any_order(catalog: Catalog) -> None:
    from catalog_harness import at

    creator = catalog.person("creator")
    content = await catalog.published_content(creator, price_cents=500)
    cid = content["id"]

    async def plays(who_id: str) -> int:
        who = catalog.person("customer", user_id=who_id)
        return (await playback(catalog, cid, who.headers)).status_code

    # A refund that arrives before its completion still ends revoked.
    await catalog.deliver(refunded("late", cid, when=at(20)), purchased("late", cid, when=at(10)))
    assert await plays("late") == 403

    # The same purchase twice, and a duplicate delivery of one message: granted once, no error.
    twice = purchased("twice", cid, when=at(10))
    await catalog.deliver(twice, twice)
    envelope = await catalog.bus.send(twice)
    catalog.bus.enqueue(envelope, twice)  # the very same message id redelivered
    await catalog.bus.drain()
    assert await plays("twice") == 200

    # Revoked, then a dispute won: purchase sends a new completion, later than the refund.
    await catalog.deliver(refunded("twice", cid, when=at(20)))
    assert await plays("twice") == 403
    await catalog.deliver(purchased("twice", cid, when=at(30), purchase_id="p1"))
    assert await plays("twice") == 200

    # A partial refund is a discount, not a revocation.
    await catalog.deliver(
        purchased("partial", cid, when=at(10)), refunded("partial", cid, when=at(20), fully=False)
    )
    assert await plays("partial") == 200
    inbox = await catalog.deps.pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'catalog.access'")
    assert inbox == 9  # every distinct message once; the redelivered one was not handled again
