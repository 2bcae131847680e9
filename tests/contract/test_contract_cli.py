"""`python -m codex_contracts check | snapshot` against a copy of the snapshots, changed the way a
developer's edit of a contract would change them (the snapshot holds the old side of the change)."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codex_contracts.__main__ import main
from codex_contracts.schema import CONTRACTS_ROOT

Mutation = Callable[[dict[str, Any]], None]


def run(root: Path, *args: str) -> int:
    return int(main(["--root", str(root), *args]))


def edit_snapshot(root: Path, name: str, mutate: Mutation) -> None:
    path = root / "schemas" / f"{name}.json"
    document = json.loads(path.read_text())
    mutate(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def struct(document: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """The Struct definition named ``title``, or the contract's own."""
    name = title or document["$ref"].rsplit("/", 1)[1]
    definition: dict[str, Any] = document["$defs"][name]
    return definition


def field_removed_since(document: dict[str, Any]) -> None:
    event = struct(document)
    event["properties"]["legacy_id"] = {"type": "string"}
    event["required"].append("legacy_id")


def size_retyped_since(document: dict[str, Any]) -> None:
    struct(document)["properties"]["size_bytes"] = {"type": "string"}


def etag_made_required_since(document: dict[str, Any]) -> None:
    event = struct(document)
    event["properties"]["etag"]["default"] = ""
    event["required"].remove("etag")


def etag_added_required_since(document: dict[str, Any]) -> None:
    event = struct(document)
    del event["properties"]["etag"]
    event["required"].remove("etag")


def width_retyped_since(document: dict[str, Any]) -> None:
    struct(document, "AssetRendition")["properties"]["width"] = {"type": "string"}


def thumbnail_widened_since(document: dict[str, Any]) -> None:
    struct(document)["properties"]["thumbnail_key"] = {"type": "string"}


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("upload.completed.v1", field_removed_since, "field 'legacy_id' was removed"),
        ("upload.completed.v1", size_retyped_since, "field 'size_bytes' changed type: string -> integer"),
        ("upload.completed.v1", etag_made_required_since, "field 'etag' became required"),
        ("upload.completed.v1", etag_added_required_since, "field 'etag' is new and required"),
        ("media.asset.ready.v1", width_retyped_since, "field 'renditions[].width' changed type"),
        ("media.asset.ready.v1", thumbnail_widened_since, "field 'thumbnail_key' changed type"),
    ],
)
def test_check_fails_naming_the_event_and_field(
    contracts_copy: Path, capsys: pytest.CaptureFixture[str], name: str, mutate: Mutation, message: str
) -> None:
    edit_snapshot(contracts_copy, name, mutate)

    assert run(contracts_copy, "check") == 1
    assert f"INCOMPATIBLE {name}: {message}" in capsys.readouterr().err


def test_snapshot_refuses_an_incompatible_change_and_writes_nothing(
    contracts_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_snapshot(contracts_copy, "upload.completed.v1", size_retyped_since)
    before = snapshot_bytes(contracts_copy)

    assert run(contracts_copy, "snapshot") == 1
    assert "upload.completed.v1: field 'size_bytes'" in capsys.readouterr().err
    assert snapshot_bytes(contracts_copy) == before


def test_an_optional_field_with_a_default_passes_and_snapshot_records_it(
    contracts_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_causation(document: dict[str, Any]) -> None:
        del struct(document)["properties"]["causation_id"]

    edit_snapshot(contracts_copy, "envelope", without_causation)

    assert run(contracts_copy, "check") == 0
    assert "envelope: compatible change not in its snapshot yet" in capsys.readouterr().out
    assert run(contracts_copy, "check", "--strict") == 1
    assert run(contracts_copy, "snapshot") == 0
    assert snapshot_bytes(contracts_copy) == snapshot_bytes(CONTRACTS_ROOT)
    assert run(contracts_copy, "check", "--strict") == 0


def test_a_version_without_snapshot_fails_until_make_contracts(
    contracts_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (contracts_copy / "schemas" / "purchase.completed.v1.json").unlink()

    assert run(contracts_copy, "check") == 1
    assert "purchase.completed.v1: new, no snapshot yet: run `make contracts`" in capsys.readouterr().err
    assert run(contracts_copy, "snapshot") == 0
    assert "added    purchase.completed.v1" in capsys.readouterr().out
    assert run(contracts_copy, "check", "--strict") == 0


def test_a_snapshotted_version_may_leave_the_registry_only_when_retired(
    contracts_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas = contracts_copy / "schemas"
    (schemas / "upload.finished.v1.json").write_bytes((schemas / "upload.completed.v1.json").read_bytes())

    assert run(contracts_copy, "check") == 1
    assert "upload.finished.v1: has a snapshot but is no longer registered" in capsys.readouterr().err
    with (contracts_copy / "retired.txt").open("a") as retired:
        retired.write("upload.finished.v1  # replaced by upload.completed.v1\n")
    assert run(contracts_copy, "check", "--strict") == 0


def test_a_stale_asyncapi_document_fails_strict_check_and_snapshot_rewrites_it(
    contracts_copy: Path,
) -> None:
    (contracts_copy / "asyncapi.json").write_text("{}\n")

    assert run(contracts_copy, "check") == 0
    assert run(contracts_copy, "check", "--strict") == 1
    assert run(contracts_copy, "snapshot") == 0
    assert (contracts_copy / "asyncapi.json").read_bytes() == (CONTRACTS_ROOT / "asyncapi.json").read_bytes()


def test_snapshot_twice_gives_identical_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "snapshot") == 0
    first = snapshot_bytes(tmp_path)
    capsys.readouterr()

    assert run(tmp_path, "snapshot") == 0
    second_run = capsys.readouterr().out
    assert snapshot_bytes(tmp_path) == first
    assert "added" not in second_run and "updated" not in second_run
    assert first == snapshot_bytes(CONTRACTS_ROOT)
    assert all(content.endswith(b"}\n") for content in first.values())


def snapshot_bytes(root: Path) -> dict[str, bytes]:
    files = [*sorted((root / "schemas").glob("*.json")), root / "asyncapi.json"]
    return {path.name: path.read_bytes() for path in files}


def test_check_without_a_snapshot_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, "check") == 2
    assert "no snapshots in" in capsys.readouterr().err
