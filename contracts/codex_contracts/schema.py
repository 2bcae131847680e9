"""JSON Schemas of every registered contract version, and the snapshot files that freeze them.

A snapshot is ``msgspec.json.schema`` of the contract's Struct, stamped with the dialect and an id,
written with sorted keys, two-space indent and a trailing newline, so that regenerating an unchanged
contract gives the same bytes.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import msgspec

from codex_contracts.base import Contract, Event, events, registry
from codex_contracts.envelope import Envelope

Schema = dict[str, Any]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE = "envelope"
"""The snapshot name of the envelope; contract types always contain a dot, so it cannot collide."""

# Every module that registers contracts. A new module is added here so that the tooling sees it.
CONTRACT_MODULES = ("codex_contracts.events", "codex_contracts.transcode")

CONTRACTS_ROOT = Path(__file__).resolve().parent.parent
"""contracts/ in the source tree: holds schemas/, asyncapi.json and retired.txt."""


def all_contracts() -> dict[str, type[Contract]]:
    """Every registered contract version, after importing every module that registers some."""
    for module in CONTRACT_MODULES:
        importlib.import_module(module)
    return registry()


def all_events() -> dict[str, type[Event]]:
    """Every registered event version (the contracts that travel on the bus)."""
    all_contracts()
    return events()


def contract_schema(cls: type[Contract]) -> Schema:
    return _stamped(msgspec.json.schema(cls), f"urn:codex:contract:{cls.type_name}")


def envelope_schema() -> Schema:
    return _stamped(msgspec.json.schema(Envelope), f"urn:codex:contract:{ENVELOPE}")


def current_schemas() -> dict[str, Schema]:
    """The schema of every registered version and of the envelope, by snapshot name."""
    schemas = {name: contract_schema(cls) for name, cls in sorted(all_contracts().items())}
    schemas[ENVELOPE] = envelope_schema()
    return schemas


def render(document: Schema) -> bytes:
    """The stable byte form of a schema or document: sorted keys, indent 2, trailing newline."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def snapshot_path(schemas_dir: Path, name: str) -> Path:
    return schemas_dir / f"{name}.json"


def read_snapshots(schemas_dir: Path) -> dict[str, Schema]:
    """Every snapshot in ``schemas_dir``, by name (the file name without ``.json``)."""
    snapshots: dict[str, Schema] = {}
    for path in sorted(schemas_dir.glob("*.json")):
        snapshots[path.name.removesuffix(".json")] = json.loads(path.read_text(encoding="utf-8"))
    return snapshots


def read_retired(path: Path) -> set[str]:
    """The versions retired on purpose: one type per line; ``#`` starts a comment."""
    if not path.exists():
        return set()
    names = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {name for name in names if name}


def write_if_changed(path: Path, content: bytes) -> bool:
    """Write ``content`` unless the file already holds exactly it; True when it wrote."""
    if path.exists() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return True


def _stamped(schema: Schema, schema_id: str) -> Schema:
    return {"$schema": DIALECT, "$id": schema_id, **schema}
