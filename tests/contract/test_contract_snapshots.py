"""The gate: the committed snapshots are exactly the schemas of the registered contracts, and they
describe what really goes on the wire."""

import json
from datetime import UTC, datetime

import jsonschema
import msgspec
import pytest

from codex_contracts import events as v1
from codex_contracts.__main__ import main
from codex_contracts.schema import CONTRACTS_ROOT, ENVELOPE, all_contracts, current_schemas, render

SCHEMAS = CONTRACTS_ROOT / "schemas"


@pytest.mark.parametrize("name", sorted(current_schemas()))
def test_every_registered_version_matches_its_committed_snapshot(name: str) -> None:
    path = SCHEMAS / f"{name}.json"

    assert path.exists(), f"{name} has no snapshot: run `make contracts` and commit {path}"
    assert path.read_bytes() == render(current_schemas()[name]), f"{name}: run `make contracts`"


def test_check_strict_passes_on_the_committed_tree() -> None:
    assert main(["check", "--strict"]) == 0


def test_the_tooling_sees_the_events_and_the_gpu_job() -> None:
    names = set(all_contracts())

    assert "upload.completed.v1" in names
    assert {"media.transcode.job.v1", "media.transcode.result.v1"} <= names
    assert ENVELOPE in current_schemas()


def test_snapshots_validate_the_messages_producers_encode() -> None:
    rendition = v1.AssetRendition(
        name="720p", key="a/720p.mp4", width=1280, height=720, codec="h264", bitrate=2_500_000,
        size_bytes=10_000, duration_s=12.5,
    )  # fmt: skip
    event = v1.AssetReadyV1(
        asset_id="a1", upload_id="u1", owner_id="o1", renditions=[rendition], thumbnail_key=None,
        duration_s=12.5, ready_at=datetime(2025, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    snapshot = json.loads((SCHEMAS / "media.asset.ready.v1.json").read_text())
    wire = json.loads(msgspec.json.encode(event))

    jsonschema.Draft202012Validator(snapshot).validate(wire)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(snapshot).validate({**wire, "renditions": [{"name": "720p"}]})
