"""Content's life: draft → processing → ready → published, or failed; archived from any; publishing
before the video is ready; only the creator (or an admin) changes it; what is announced to others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog_harness import Catalog, asset_failed, asset_ready, at, registered

from codex_contracts.events import UserRoleChangedV1


async def test_draft_processing_ready_published(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    draft = await catalog.create(creator, title="Knots", description="Sailing knots", price_cents=0)
    assert draft["status"] == "draft"
    assert draft["creator_id"] == creator.id

    patched = await catalog.http.patch(
        f"/content/{draft['id']}", json={"upload_id": "up-1"}, headers=creator.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "processing"

    await catalog.deliver(asset_ready("up-1", creator.id))
    ready = (await catalog.get(draft["id"], creator)).json()
    assert ready["status"] == "ready"
    assert ready["duration_s"] == 4.0
    assert ready["thumbnail_url"].startswith(catalog.deps.settings.s3_endpoint_url or "")

    published = await catalog.publish(draft["id"], creator)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.json()["published_at"] is not None
    # Anyone can see it now, without a token, with the creator's name once auth has told it.
    assert (await catalog.get(draft["id"])).json()["status"] == "published"
    assert (await catalog.get(draft["id"])).json()["creator_name"] is None
    await catalog.deliver(registered(creator.id, "Ada Lovelace"))
    assert (await catalog.get(draft["id"])).json()["creator_name"] == "Ada Lovelace"
    assert await catalog.announced(draft["id"]) == [
        "catalog.content.updated.v1",  # upload attached: processing
        "catalog.content.updated.v1",  # asset ready: ready
        "catalog.content.published.v1",
    ]


async def test_publish_before_ready_publishes_when_the_asset_is_ready(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    content = await catalog.create(creator, upload_id="up-early")
    assert content["status"] == "processing"

    early = await catalog.publish(content["id"], creator)
    assert early.status_code == 200
    assert early.json()["status"] == "processing"
    assert early.json()["publish_requested"] is True
    assert (await catalog.get(content["id"])).status_code == 404  # not public yet

    ready = asset_ready("up-early", creator.id)
    await catalog.deliver(ready, ready)  # sent twice (two messages): published once
    assert (await catalog.get(content["id"])).json()["status"] == "published"
    assert await catalog.announced(content["id"]) == ["catalog.content.published.v1"]
    published = [e for e in await catalog.outbox() if e.type == "catalog.content.published.v1"]
    assert published[0].data.asset_id == "asset-up-early"  # type: ignore[attr-defined]


async def test_failed_asset_fails_the_content_and_another_upload_recovers_it(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    content = await catalog.create(creator, upload_id="up-bad")
    await catalog.deliver(asset_failed("up-bad", creator.id))
    assert await catalog.status(content["id"], creator) == "failed"
    refused = await catalog.publish(content["id"], creator)
    assert refused.status_code == 409

    await catalog.deliver(asset_ready("up-good", creator.id))
    swapped = await catalog.http.patch(
        f"/content/{content['id']}", json={"upload_id": "up-good"}, headers=creator.headers
    )
    assert swapped.json()["status"] == "ready"


async def test_a_later_ready_event_overrides_an_earlier_failure_and_not_the_reverse(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    content = await catalog.create(creator, upload_id="up-retry")
    # The retry's success (t=20) arrives before the first attempt's failure (t=10): ready stays.
    await catalog.deliver(
        asset_ready("up-retry", creator.id, when=at(20)), asset_failed("up-retry", creator.id, when=at(10))
    )
    assert await catalog.status(content["id"], creator) == "ready"


async def test_someone_elses_upload_cannot_be_published(catalog: Catalog) -> None:
    owner, thief = catalog.person("creator"), catalog.person("creator")
    await catalog.deliver(asset_ready("up-owned", owner.id))
    content = await catalog.create(thief, upload_id="up-owned")
    assert content["status"] == "failed"
    assert content["thumbnail_url"] is None
    assert (await catalog.publish(content["id"], thief)).status_code == 409


async def test_archive_from_any_status(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    draft = await catalog.create(creator)
    published = await catalog.published_content(creator)
    for content in (draft, published):
        archived = await catalog.http.post(f"/content/{content['id']}/archive", headers=creator.headers)
        assert archived.status_code == 200, archived.text
        assert archived.json()["status"] == "archived"
        again = await catalog.http.post(f"/content/{content['id']}/archive", headers=creator.headers)
        assert again.json()["status"] == "archived"
        edit = await catalog.http.patch(
            f"/content/{content['id']}", json={"title": "x"}, headers=creator.headers
        )
        assert edit.status_code == 409
    assert (await catalog.get(published["id"])).status_code == 404  # out of public view
    assert await catalog.announced(published["id"]) == [
        "catalog.content.published.v1",
        "catalog.content.archived.v1",
    ]
    assert await catalog.announced(draft["id"]) == ["catalog.content.archived.v1"]


async def test_only_the_creator_or_an_admin_may_change_content(catalog: Catalog) -> None:
    creator, other, customer, admin = (
        catalog.person("creator"),
        catalog.person("creator"),
        catalog.person("customer"),
        catalog.person("admin"),
    )
    published = await catalog.published_content(creator)
    draft = await catalog.create(creator)
    url = f"/content/{published['id']}"
    assert (await catalog.http.patch(url, json={"title": "Mine"}, headers=other.headers)).status_code == 403
    assert (await catalog.http.post(f"{url}/archive", headers=other.headers)).status_code == 403
    assert (
        await catalog.http.patch(url, json={"title": "Mine"}, headers=customer.headers)
    ).status_code == 403
    assert (await catalog.http.patch(url, json={"title": "Mine"})).status_code == 401
    # Another's draft is not even known to exist.
    assert (
        await catalog.http.patch(f"/content/{draft['id']}", json={"title": "x"}, headers=other.headers)
    ).status_code == 404
    assert (await catalog.get(draft["id"], other)).status_code == 404
    assert (
        await catalog.http.post(
            "/content", json={"title": "t", "price_cents": 1, "currency": "USD"}, headers=customer.headers
        )
    ).status_code == 403

    by_admin = await catalog.http.patch(url, json={"price_cents": 900}, headers=admin.headers)
    assert by_admin.status_code == 200
    assert by_admin.json()["price_cents"] == 900
    updated = [e for e in await catalog.outbox() if e.type == "catalog.content.updated.v1"]
    assert updated[-1].data.price_cents == 900  # type: ignore[attr-defined]
    assert (await catalog.get(published["id"])).json()["title"] == published["title"]


async def test_a_published_content_keeps_its_upload(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    published = await catalog.published_content(creator)
    swap = await catalog.http.patch(
        f"/content/{published['id']}", json={"upload_id": "up-x"}, headers=creator.headers
    )
    assert swap.status_code == 409


async def test_a_demoted_creator_loses_creator_rights_before_the_token_expires(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    content = await catalog.create(creator)
    # The token was issued (iat) before the demotion: the demotion wins.
    demoted_at = datetime.now(UTC) + timedelta(seconds=2)
    demotion = UserRoleChangedV1(
        user_id=creator.id, previous_role="creator", role="customer", changed_by=None, changed_at=demoted_at
    )
    await catalog.deliver(registered(creator.id, "Ada"), demotion)
    edit = await catalog.http.patch(f"/content/{content['id']}", json={"title": "x"}, headers=creator.headers)
    assert edit.status_code == 403
    body = {"title": "t", "price_cents": 1, "currency": "USD"}
    assert (await catalog.http.post("/content", json=body, headers=creator.headers)).status_code == 403
    # A token issued after the demotion says customer anyway; one issued after a re-promotion works.
    promoted = UserRoleChangedV1(
        user_id=creator.id, previous_role="customer", role="creator", changed_by=None, changed_at=at(0)
    )
    await catalog.deliver(promoted)  # older than the demotion: ignored
    assert (await catalog.http.post("/content", json=body, headers=creator.headers)).status_code == 403


async def test_bad_input_is_a_400_naming_the_field(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    cases = [
        ({"title": "", "price_cents": 1, "currency": "USD"}, "title"),
        ({"title": "   ", "price_cents": 1, "currency": "USD"}, "title"),
        ({"title": "t", "price_cents": -1, "currency": "USD"}, "price_cents"),
        ({"title": "t", "price_cents": 1, "currency": "usd"}, "currency"),
        ({"title": "a\u0000b", "price_cents": 1, "currency": "USD"}, "title"),
    ]
    for body, field in cases:
        response = await catalog.http.post("/content", json=body, headers=creator.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text, response.text


async def test_publish_racing_the_asset_event_publishes_exactly_once(catalog: Catalog) -> None:
    """The request locks the content then reads the asset; the handler records the asset then locks
    the content: whichever commits first, the other sees it."""
    import asyncio

    creator = catalog.person("creator")
    contents = [await catalog.create(creator, upload_id=f"up-race-{i}") for i in range(6)]
    for i, content in enumerate(contents):
        publish, _ = await asyncio.gather(
            catalog.publish(content["id"], creator), catalog.deliver(asset_ready(f"up-race-{i}", creator.id))
        )
        assert publish.status_code == 200
    for content in contents:
        assert await catalog.status(content["id"], creator) == "published"
        assert (await catalog.announced(content["id"])).count("catalog.content.published.v1") == 1
