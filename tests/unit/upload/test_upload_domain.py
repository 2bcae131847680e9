"""The upload rules without I/O: what may be uploaded, how it is split, when stored bytes are refused."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_platform.errors import InvalidInput
from codex_upload.domain import (
    ACCEPTED_EXTENSIONS,
    MAX_PARTS,
    PartPlan,
    Upload,
    UploadClosed,
    check_part_numbers,
    declare,
    object_key,
    plan_parts,
    refusal_of,
    url_expiry,
)
from codex_upload.settings import GIB, MIB, UploadSettings
from codex_upload.store import cors_rules

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PROBE = Path(__file__).resolve().parents[3] / "gpu" / "codex_gpu" / "probe.py"


def upload(**changes: object) -> Upload:
    base = Upload(
        id="0b9d6c1e-6a7e-4f53-a2b3-1c2d3e4f5a6b",
        owner_id="u",
        filename="a.mp4",
        content_type="video/mp4",
        size_bytes=1000,
        method="put",
        object_key="videos/original/x.mp4",
        state="pending",
        created_at=NOW,
        expires_at=NOW + timedelta(hours=24),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_every_accepted_extension_names_a_container_the_gpu_worker_opens() -> None:
    tree = ast.parse(PROBE.read_text())
    [node] = [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "ACCEPTED_CONTAINERS" for t in n.targets)
    ]
    worker = set(ast.literal_eval(node))
    assert set(ACCEPTED_EXTENSIONS.values()) <= worker


def test_a_declared_video_is_normalised() -> None:
    declared = declare("C:\\Users\\ada\\My Film.MOV", "Video/QuickTime; codecs=avc1", 10, max_bytes=100)
    assert (declared.filename, declared.extension, declared.content_type) == (
        "My Film.MOV",
        ".mov",
        "video/quicktime",
    )
    assert object_key("id1", declared.extension) == "videos/original/id1.mov"


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "field"),
    [
        ("notes.txt", "video/mp4", 10, "filename"),
        ("noextension", "video/mp4", 10, "filename"),
        ("playlist.m3u8", "application/vnd.apple.mpegurl", 10, "filename"),
        ("", "video/mp4", 10, "filename"),
        ("a\x00.mp4", "video/mp4", 10, "filename"),
        ("clip.mp4", "image/png", 10, "content_type"),
        ("clip.mp4", "video/x-unknown", 10, "content_type"),
        ("clip.mp4", "video/mp4", 0, "size_bytes"),
        ("clip.mp4", "video/mp4", 101, "size_bytes"),
    ],
)
def test_what_the_worker_cannot_take_is_refused_naming_the_field(
    filename: str, content_type: str, size: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        declare(filename, content_type, size, max_bytes=100)
    assert refused.value.field == field


def test_parts_are_the_preferred_size_unless_that_needs_over_ten_thousand() -> None:
    assert plan_parts(100 * MIB, 16 * MIB) == PartPlan(16 * MIB, 7)
    assert plan_parts(16 * MIB, 16 * MIB) == PartPlan(16 * MIB, 1)
    huge = plan_parts(200 * GIB, 16 * MIB)
    assert huge.part_count <= MAX_PARTS
    assert huge.part_size % MIB == 0
    assert huge.part_size * huge.part_count >= 200 * GIB


def test_the_last_part_holds_the_rest() -> None:
    plan = plan_parts(10 * MIB + 5, 5 * MIB)
    assert [plan.length_of(n, 10 * MIB + 5) for n in (1, 2, 3)] == [5 * MIB, 5 * MIB, 5]
    with pytest.raises(InvalidInput):
        plan.length_of(4, 10 * MIB + 5)
    assert check_part_numbers([3, 1, 3], plan) == [1, 3]
    for bad in ([], [0], [4]):
        with pytest.raises(InvalidInput):
            check_part_numbers(bad, plan)


def test_stored_bytes_are_refused_unless_size_and_type_are_as_declared() -> None:
    declared = upload()
    assert refusal_of(declared, 1000, "video/mp4") is None
    assert refusal_of(declared, 1000, "video/mp4; charset=binary") is None
    assert "999 bytes" in (refusal_of(declared, 999, "video/mp4") or "")
    assert "1001 bytes" in (refusal_of(declared, 1001, "video/mp4") or "")
    assert "text/html" in (refusal_of(declared, 1000, "text/html") or "")
    assert "missing" in (refusal_of(declared, 1000, None) or "")


def test_presigned_urls_never_outlive_the_upload() -> None:
    assert url_expiry(NOW, upload(), 3600) == 3600
    assert url_expiry(NOW, upload(expires_at=NOW + timedelta(seconds=90)), 3600) == 90
    with pytest.raises(UploadClosed):
        url_expiry(NOW, upload(expires_at=NOW), 3600)


def test_only_the_owner_or_an_admin_sees_an_upload() -> None:
    mine = upload(owner_id="ada")
    assert mine.visible_to("ada", "creator")
    assert mine.visible_to("root", "admin")
    assert not mine.visible_to("bob", "creator")
    assert not mine.visible_to("bob", "customer")


def test_settings_bounds() -> None:
    assert UploadSettings(create_limit="5/60").create_rate.count == 5
    with pytest.raises(ValueError, match="5 GiB"):
        UploadSettings(single_put_max_bytes=6 * GIB)


def test_bucket_cors_exposes_etag_to_the_frontend_origins() -> None:
    [rule] = cors_rules(["http://localhost:8080"])["CORSRules"]
    assert rule["AllowedOrigins"] == ["http://localhost:8080"]
    assert "PUT" in rule["AllowedMethods"]
    assert rule["ExposeHeaders"] == ["ETag"]
