"""GET /content: published only, newest first, keyset pages that stay stable while content is
published between two pages, filters, and ranked full-text search."""

from __future__ import annotations

from typing import Any

from catalog_harness import Catalog, Person, asset_ready, registered


async def publish_many(catalog: Catalog, creator: Person, count: int, **body: Any) -> list[str]:
    """`count` published contents sharing one ready upload; their ids, oldest first."""
    upload_id = f"up-shared-{creator.id[:8]}"
    await catalog.deliver(asset_ready(upload_id, creator.id))
    ids = []
    for i in range(count):
        content = await catalog.create(creator, upload_id=upload_id, title=f"Film {i}", **body)
        assert (await catalog.publish(content["id"], creator)).status_code == 200
        ids.append(content["id"])
    return ids


async def all_pages(catalog: Catalog, params: dict[str, Any]) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await catalog.http.get("/content", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_pages_are_newest_first_and_stable_while_content_is_published(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    await catalog.create(creator, title="A draft is never listed")
    ids = await publish_many(catalog, creator, 7)

    first = await catalog.http.get("/content", params={"limit": 3})
    assert [item["id"] for item in first.json()["items"]] == ids[::-1][:3]
    cursor = first.json()["next_cursor"]

    newer = await publish_many(catalog, catalog.person("creator"), 2)  # published between two pages
    rest = await all_pages(catalog, {"limit": 3, "cursor": cursor})
    seen = [item["id"] for item in first.json()["items"]] + [i for page in rest for i in page]
    assert seen == ids[::-1], "no row skipped or repeated, and the new rows are not in later pages"
    assert [len(page) for page in rest] == [3, 1]

    everything = await all_pages(catalog, {"limit": 4})
    assert [i for page in everything for i in page] == newer[::-1] + ids[::-1]


async def test_items_carry_the_creators_name_and_filters_narrow_the_list(catalog: Catalog) -> None:
    alice, bob = catalog.person("creator"), catalog.person("creator")
    await catalog.deliver(registered(alice.id, "Alice"))
    free = await publish_many(catalog, alice, 2, price_cents=0)
    paid = await publish_many(catalog, bob, 2, price_cents=700)

    by_alice = (await catalog.http.get("/content", params={"creator": alice.id})).json()["items"]
    assert {item["id"] for item in by_alice} == set(free)
    assert {item["creator_name"] for item in by_alice} == {"Alice"}
    paid_items = (await catalog.http.get("/content", params={"pricing": "paid"})).json()["items"]
    assert {item["id"] for item in paid_items} == set(paid)
    assert all(item["creator_name"] is None for item in paid_items)  # bob's registration not seen yet
    free_items = (await catalog.http.get("/content", params={"pricing": "free", "creator": bob.id})).json()
    assert free_items == {"items": [], "next_cursor": None}


async def test_search_finds_a_word_of_the_description_and_ranks_a_title_match_first(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    upload_id = "up-search"
    await catalog.deliver(asset_ready(upload_id, creator.id))
    rows = [
        ("Knots for beginners", "Tie a bowline before you go sailing past the lighthouse"),
        ("Sailing in a storm", "Reefing and heaving to"),
        ("Bread", "Sourdough at home"),
    ]
    ids = {}
    for title, description in rows:
        content = await catalog.create(creator, upload_id=upload_id, title=title, description=description)
        await catalog.publish(content["id"], creator)
        ids[title] = content["id"]

    lighthouse = (await catalog.http.get("/content", params={"q": "lighthouses"})).json()["items"]
    assert [item["id"] for item in lighthouse] == [
        ids["Knots for beginners"]
    ]  # stemmed, from the description

    sailing = (await catalog.http.get("/content", params={"q": "sailing"})).json()["items"]
    # The older content mentions it in its description, the newer one in its title: the title wins.
    assert [item["id"] for item in sailing] == [ids["Sailing in a storm"], ids["Knots for beginners"]]

    excluded = (await catalog.http.get("/content", params={"q": "sailing -storm"})).json()["items"]
    assert [item["id"] for item in excluded] == [ids["Knots for beginners"]]

    pages = await all_pages(catalog, {"q": "sailing", "limit": 1})
    assert pages == [[ids["Sailing in a storm"]], [ids["Knots for beginners"]]]


async def test_search_pages_are_stable_when_ranks_tie(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    ids = await publish_many(catalog, creator, 5, description="ocean crossing")
    pages = await all_pages(catalog, {"q": "ocean", "limit": 2})
    assert [i for page in pages for i in page] == ids[::-1]


async def test_a_bad_cursor_or_limit_is_a_400(catalog: Catalog) -> None:
    creator = catalog.person("creator")
    await publish_many(catalog, creator, 2, description="ocean")
    searched = (await catalog.http.get("/content", params={"q": "ocean", "limit": 1})).json()
    plain = (await catalog.http.get("/content", params={"limit": 1})).json()
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": searched["next_cursor"]},  # a search's cursor without its search
        {"cursor": searched["next_cursor"], "q": "other"},
        {"cursor": plain["next_cursor"], "q": "ocean"},
        {"limit": 0},
        {"limit": 101},
        {"pricing": "cheap"},
    ):
        response = await catalog.http.get("/content", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_creator_lists_their_own_content_in_every_status(catalog: Catalog) -> None:
    creator, other = catalog.person("creator"), catalog.person("creator")
    draft = await catalog.create(creator, title="Draft")
    processing = await catalog.create(creator, title="Processing", upload_id="up-own")
    published = await catalog.published_content(creator, title="Published")
    await catalog.create(other, title="Not mine")

    first = await catalog.http.get("/content/mine", params={"limit": 2}, headers=creator.headers)
    assert first.status_code == 200, first.text
    rest = await catalog.http.get(
        "/content/mine", params={"cursor": first.json()["next_cursor"]}, headers=creator.headers
    )
    items = first.json()["items"] + rest.json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [
        (published["id"], "published"),
        (processing["id"], "processing"),
        (draft["id"], "draft"),
    ]
    assert rest.json()["next_cursor"] is None
    customer = catalog.person("customer")
    assert (await catalog.http.get("/content/mine", headers=customer.headers)).status_code == 403
    assert (await catalog.http.get("/content/mine")).status_code == 401
    # A cursor of the public listing is not one of this listing.
    await catalog.published_content(creator)  # a second published row: the public listing pages
    public = (await catalog.http.get("/content", params={"limit": 1})).json()
    mixed = await catalog.http.get(
        "/content/mine", params={"cursor": public["next_cursor"]}, headers=creator.headers
    )
    assert mixed.status_code == 400
