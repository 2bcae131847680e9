"""Large files: an S3 multipart upload with presigned part URLs, resumable part by part."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from upload_harness import PART, UploadHarness

# Three parts: two full ones and a short last one.
VIDEO = os.urandom(2 * PART + 12345)


def chunks(data: bytes) -> dict[int, bytes]:
    return {i // PART + 1: data[i : i + PART] for i in range(0, len(data), PART)}


async def test_a_three_part_upload_completes_with_the_parts_etags(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(
        creator, len(VIDEO), filename="film.mkv", content_type="video/x-matroska"
    )
    assert ticket["method"] == "multipart"
    assert (ticket["part_size"], ticket["part_count"]) == (PART, 3)
    assert "url" not in ticket
    upload_id = ticket["upload_id"]

    response = await creator.post(f"/uploads/{upload_id}/parts", json={"part_numbers": [1, 2, 3]})
    parts = response.json()["parts"]
    assert [p["size_bytes"] for p in parts] == [PART, PART, 12345]
    for part in parts:  # each URL signs its part's exact length
        assert "content-length" in parse_qs(urlsplit(part["url"]).query)["X-Amz-SignedHeaders"][0]
    assert (await creator.get(f"/uploads/{upload_id}")).json()["state"] == "uploading"

    pieces = chunks(VIDEO)
    etags = [
        {"number": p["number"], "etag": await upload_service.put_part(p["url"], pieces[p["number"]])}
        for p in parts
    ]
    assert (await creator.get(f"/uploads/{upload_id}")).json()["parts_done"] == 3
    done = await creator.post(f"/uploads/{upload_id}/complete", json={"parts": list(reversed(etags))})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed"

    [event] = await upload_service.events()
    assert event["key"] == f"videos/original/{upload_id}.mkv"
    assert event["size_bytes"] == len(VIDEO)
    assert event["content_type"] == "video/x-matroska"
    assert await upload_service.storage.get_bytes(event["key"]) == VIDEO
    again = await creator.post(f"/uploads/{upload_id}/complete", json={"parts": etags})
    assert again.json() == done.json()
    assert len(await upload_service.events()) == 1


async def test_a_client_that_lost_its_connection_resumes_with_the_parts_it_lacks(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    upload_id = ticket["upload_id"]
    pieces = chunks(VIDEO)
    urls = await upload_service.part_urls(creator, upload_id, [1, 2, 3])
    await upload_service.put_part(urls[1], pieces[1])
    # ... the connection drops. Later, the client asks what the store holds and what it still needs.
    held = (await creator.get(f"/uploads/{upload_id}/parts")).json()["parts"]
    assert [(p["number"], p["size_bytes"]) for p in held] == [(1, PART)]
    missing = sorted({1, 2, 3} - {p["number"] for p in held})
    fresh = await upload_service.part_urls(creator, upload_id, missing)
    for number in missing:
        await upload_service.put_part(fresh[number], pieces[number])
    # Without a part list, completion takes the parts the store lists.
    done = await creator.post(f"/uploads/{upload_id}/complete")
    assert done.status_code == 200, done.text
    assert await upload_service.storage.get_bytes(f"videos/original/{upload_id}.mp4") == VIDEO
    assert len(await upload_service.events()) == 1


async def test_completion_with_a_part_missing_is_refused_and_the_upload_stays_open(
    upload_service: UploadHarness,
) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    upload_id = ticket["upload_id"]
    urls = await upload_service.part_urls(creator, upload_id, [1, 2])
    pieces = chunks(VIDEO)
    etags = [{"number": n, "etag": await upload_service.put_part(urls[n], pieces[n])} for n in (1, 2)]
    # Without a part list, the store's listing must hold every part.
    lacking = await creator.post(f"/uploads/{upload_id}/complete")
    assert lacking.status_code == 409
    assert "lacks parts 3" in lacking.json()["detail"]
    short = await creator.post(f"/uploads/{upload_id}/complete", json={"parts": etags})
    assert short.status_code == 400
    assert short.json()["errors"][0]["field"] == "parts"
    wrong = await creator.post(
        f"/uploads/{upload_id}/complete", json={"parts": [*etags, {"number": 3, "etag": '"0000"'}]}
    )
    assert wrong.status_code == 409, wrong.text
    assert await upload_service.state(upload_id) == "uploading"
    assert await upload_service.events() == []


async def test_part_numbers_outside_the_plan_are_refused(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    response = await creator.post(f"/uploads/{ticket['upload_id']}/parts", json={"part_numbers": [4]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "part_numbers"
    single = await upload_service.start(creator, 10)
    no_parts = await creator.post(f"/uploads/{single['upload_id']}/parts", json={"part_numbers": [1]})
    assert no_parts.status_code == 409


async def test_abort_aborts_the_multipart_upload_in_the_store(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    upload_id = ticket["upload_id"]
    urls = await upload_service.part_urls(creator, upload_id, [1])
    await upload_service.put_part(urls[1], chunks(VIDEO)[1])
    assert (await creator.delete(f"/uploads/{upload_id}")).status_code == 204
    listed = await upload_service.storage.client.list_multipart_uploads(Bucket=upload_service.storage.bucket)
    assert listed.get("Uploads", []) == []
    assert (await creator.get(f"/uploads/{upload_id}")).json()["state"] == "aborted"
    assert (await creator.post(f"/uploads/{upload_id}/parts", json={"part_numbers": [2]})).status_code == 409


async def test_completing_before_any_part_is_in_is_refused(upload_service: UploadHarness) -> None:
    creator = upload_service.client()
    ticket = await upload_service.start(creator, len(VIDEO))
    refused = await creator.post(f"/uploads/{ticket['upload_id']}/complete")
    assert refused.status_code == 409
    assert await upload_service.state(ticket["upload_id"]) == "pending"
    assert await upload_service.events() == []
