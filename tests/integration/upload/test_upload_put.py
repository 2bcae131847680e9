"""Small files: one presigned PUT, then completion verified against what the store holds."""

from __future__ import annotations

import os
import uuid
from urllib.parse import parse_qs, urlsplit

from upload_harness import UploadHarness

VIDEO = os.urandom(4096)


async def test_a_small_file_by_presigned_put_completes_and_emits_its_event(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    owner = upload_service.tokens.user_of(creator.headers["Authorization"].split()[1])
    ticket = await upload_service.start(creator, len(VIDEO), filename="My Holiday.MP4")
    assert ticket["method"] == "put"
    assert ticket["headers"] == {
        "Content-Type": "video/mp4",
        "Content-Length": str(len(VIDEO)),
        "If-None-Match": "*",
    }
    # The URL signs the declared type and length (S3 and MinIO refuse a PUT that sends others) and
    # the condition that the key holds nothing yet.
    signed = parse_qs(urlsplit(ticket["url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type", "if-none-match"} <= set(signed)

    assert (await upload_service.put(ticket, VIDEO)).status_code == 200
    upload_id = ticket["upload_id"]
    done = await creator.post(f"/uploads/{upload_id}/complete")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"
    assert done.json()["filename"] == "My Holiday.MP4"

    [event] = await upload_service.events()
    assert event["upload_id"] == upload_id
    assert event["owner_id"] == owner
    assert event["key"] == f"videos/original/{upload_id}.mp4"
    assert event["bucket"] == upload_service.settings.s3_bucket
    assert event["size_bytes"] == len(VIDEO)
    assert event["content_type"] == "video/mp4"
    stored = await upload_service.storage.get_bytes(event["key"])
    assert stored == VIDEO
    # The URL still lives, but the completed original cannot be replaced through it.
    again = await upload_service.put(ticket, os.urandom(len(VIDEO)))
    assert again.status_code == 412
    assert await upload_service.storage.get_bytes(event["key"]) == VIDEO

    shown = await creator.get(f"/uploads/{upload_id}")
    assert shown.json()["state"] == "completed"
    assert shown.json()["parts_done"] == 1


async def test_completing_twice_answers_the_same_and_emits_nothing_more(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    await upload_service.put(ticket, VIDEO)
    first = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    second = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert len(await upload_service.events()) == 1


async def test_completion_is_refused_while_the_object_is_missing_and_succeeds_once_it_is_there(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    missing = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert missing.status_code == 409
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "not in the store" in missing.json()["detail"]
    assert await upload_service.state(ticket["upload_id"]) == "pending"

    await upload_service.put(ticket, VIDEO)
    assert (await creator.post(f"/uploads/{ticket['upload_id']}/complete")).status_code == 200
    assert len(await upload_service.events()) == 1


async def test_an_object_smaller_than_declared_is_refused_deleted_and_the_upload_failed(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    # moto ignores the signed Content-Length; a real store would refuse this PUT outright.
    await upload_service.put(ticket, VIDEO[:1000])
    refused = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert refused.status_code == 409
    assert "1000 bytes" in refused.json()["detail"]
    key = f"videos/original/{ticket['upload_id']}.mp4"
    assert await upload_service.storage.head(key) is None
    shown = (await creator.get(f"/uploads/{ticket['upload_id']}")).json()
    assert shown["state"] == "failed"
    assert "1000 bytes" in shown["failure_reason"]
    assert await upload_service.events() == []
    # A failed upload stays failed: completing again is refused, without an event.
    assert (await creator.post(f"/uploads/{ticket['upload_id']}/complete")).status_code == 409
    assert await upload_service.events() == []


async def test_an_object_of_another_type_is_refused_and_deleted(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    await upload_service.put(ticket, VIDEO, **{"Content-Type": "text/html"})
    refused = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert refused.status_code == 409
    assert "text/html" in refused.json()["detail"]
    assert await upload_service.storage.head(f"videos/original/{ticket['upload_id']}.mp4") is None
    assert await upload_service.state(ticket["upload_id"]) == "failed"
    assert await upload_service.events() == []


async def test_abort_removes_the_object_and_closes_the_upload(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    await upload_service.put(ticket, VIDEO)
    assert (await creator.delete(f"/uploads/{ticket['upload_id']}")).status_code == 204
    assert await upload_service.storage.head(f"videos/original/{ticket['upload_id']}.mp4") is None
    assert (await creator.get(f"/uploads/{ticket['upload_id']}")).json()["state"] == "aborted"
    assert (await creator.post(f"/uploads/{ticket['upload_id']}/complete")).status_code == 409
    assert (await creator.delete(f"/uploads/{ticket['upload_id']}")).status_code == 204  # again: no-op
    assert await upload_service.events() == []


async def test_a_completed_upload_cannot_be_aborted(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    await upload_service.put(ticket, VIDEO)
    await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert (await creator.delete(f"/uploads/{ticket['upload_id']}")).status_code == 409
    assert await upload_service.storage.head(f"videos/original/{ticket['upload_id']}.mp4") is not None


async def test_another_creator_and_a_customer_get_404_and_an_admin_sees_it(
    upload_service: UploadHarness,
) -> None:
    owner = upload_service.client()
    ticket = await upload_service.start(owner, len(VIDEO))
    upload_id = ticket["upload_id"]
    await upload_service.put(ticket, VIDEO)
    for stranger in (upload_service.client("creator"), upload_service.client("customer")):
        assert (await stranger.get(f"/uploads/{upload_id}")).status_code == 404
        assert (await stranger.post(f"/uploads/{upload_id}/complete")).status_code == 404
        assert (await stranger.delete(f"/uploads/{upload_id}")).status_code == 404
        assert (await stranger.get(f"/uploads/{upload_id}/parts")).status_code == 404
    # The same answer as for an id that does not exist.
    unknown = await upload_service.client().get(f"/uploads/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert await upload_service.state(upload_id) == "pending"
    admin = upload_service.client("admin")
    assert (await admin.get(f"/uploads/{upload_id}")).json()["state"] == "pending"
    assert (await admin.post(f"/uploads/{upload_id}/complete")).status_code == 200


async def test_customers_may_not_start_uploads_and_tokens_are_required(upload_service: UploadHarness) -> None:
    body = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}
    assert (await upload_service.client("customer").post("/uploads", json=body)).status_code == 403
    assert (await upload_service.http.post(f"{upload_service.url}/uploads", json=body)).status_code == 401


async def test_types_sizes_and_names_the_worker_cannot_take_are_refused_with_problem_details(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    limit = upload_service.settings.max_upload_bytes
    cases = [
        ({"filename": "notes.txt", "content_type": "video/mp4", "size_bytes": 10}, "filename"),
        ({"filename": "clip.mp4", "content_type": "text/plain", "size_bytes": 10}, "content_type"),
        ({"filename": "clip.mp4", "content_type": "image/gif", "size_bytes": 10}, "content_type"),
        ({"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": limit + 1}, "size_bytes"),
        ({"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": 0}, "size_bytes"),
    ]
    for body, field in cases:
        response = await creator.post("/uploads", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == field, response.json()
    # Every container the worker opens is welcome, whatever the extension's case.
    for filename, kind in [
        ("a.MKV", "video/x-matroska"),
        ("b.webm", "video/webm"),
        ("c.mov", "video/quicktime"),
    ]:
        response = await creator.post(
            "/uploads", json={"filename": filename, "content_type": kind, "size_bytes": 5}
        )
        assert response.status_code == 201, response.text


async def test_a_creator_lists_own_uploads_newest_first_page_by_page(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ids = [(await upload_service.start(creator, 10 + i))["upload_id"] for i in range(5)]
    await upload_service.start(upload_service.client(), 10)  # someone else's
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await creator.get("/uploads", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await creator.get("/uploads", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_starting_uploads_is_rate_limited_per_creator(start_upload: object) -> None:
    async with start_upload(create_limit="2/60") as service:  # type: ignore[operator]
        creator, other = service.client(), service.client()
        for _ in range(2):
            await service.start(creator, 10)
        body = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 10}
        refused = await creator.post("/uploads", json=body)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await other.post("/uploads", json=body)).status_code == 201
