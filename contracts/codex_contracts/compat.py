"""Whether a contract version's schema changed compatibly since its snapshot.

Consumers decode what producers send, and the two may be built from either side of a change, so a
change within a version is compatible only when a message valid under one schema decodes the same
under the other. Allowed: a new field with a default; documentation (title, description); the
Python name of a nested Struct; field order; adding None to the type of a field that has a default.
Everything else is incompatible: a removed or renamed field, any other change of type (narrowing or
widening, nested Structs, list items, union members, enum values, constraints), a field made required
or optional, a changed default, a new required field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

# Keywords that document a schema without changing which messages it accepts. ``default`` is compared
# on its own, per field, and ``$defs`` is only reached through ``$ref``.
_ANNOTATIONS = frozenset(
    {"title", "description", "examples", "$comment", "deprecated", "$schema", "$id", "$defs", "default"}
)
_NO_DEFAULT = "<no default>"


@dataclass(frozen=True)
class Incompatibility:
    type_name: str
    field: str | None
    """Dotted path of the field (``renditions[].width``); None when the version as a whole is at fault."""
    problem: str

    def __str__(self) -> str:
        where = f"field '{self.field}' " if self.field else ""
        return f"{self.type_name}: {where}{self.problem}"


def compare(old_schema: Schema, new_schema: Schema, type_name: str) -> list[Incompatibility]:
    """Every incompatible difference from the snapshot ``old_schema`` to ``new_schema``; [] if none."""
    comparison = _Comparison(old_schema, new_schema, type_name)
    comparison.diff(old_schema, new_schema, "", has_default=False)
    return comparison.found


@dataclass
class Review:
    """Snapshots against the registered contracts, version by version."""

    incompatible: list[Incompatibility] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    """Registered versions without a snapshot yet."""
    updated: list[str] = field(default_factory=list)
    """Versions whose schema changed compatibly since the snapshot was written."""
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    """Snapshotted versions no longer registered, retired on purpose."""


def review(snapshots: Mapping[str, Schema], current: Mapping[str, Schema], retired: Set[str]) -> Review:
    result = Review()
    for name in sorted(current):
        if name not in snapshots:
            result.new.append(name)
            continue
        problems = compare(snapshots[name], current[name], name)
        if problems:
            result.incompatible.extend(problems)
        elif snapshots[name] != current[name]:
            result.updated.append(name)
        else:
            result.unchanged.append(name)
    for name in sorted(set(snapshots) - set(current)):
        if name in retired:
            result.retired.append(name)
        else:
            result.incompatible.append(
                Incompatibility(
                    name,
                    None,
                    "has a snapshot but is no longer registered: a version is served until it is "
                    "retired explicitly (list it in contracts/retired.txt)",
                )
            )
    return result


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, type_name: str) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.type_name = type_name
        self.found: list[Incompatibility] = []
        # Pairs of definitions already compared: recursive Structs end, shared ones are reported once.
        self._seen: set[tuple[str, str]] = set()

    def report(self, path: str, problem: str) -> None:
        self.found.append(Incompatibility(self.type_name, path or None, problem))

    def diff(self, old: Any, new: Any, path: str, *, has_default: bool) -> None:
        old_ref, old = _resolve(old, self.old_root)
        new_ref, new = _resolve(new, self.new_root)
        if has_default and _allows_null(new) and not _allows_null(old):
            # The one widening allowed: where a default exists, producers of the old version never
            # send null and consumers of the new one accept what they send.
            self.diff(old, _without_null(new), path, has_default=False)
            return
        if old_ref is not None and new_ref is not None:
            if (old_ref, new_ref) in self._seen:
                return
            self._seen.add((old_ref, new_ref))
        if _is_struct(old) and _is_struct(new):
            self.diff_struct(old, new, path)
        elif "anyOf" in old and "anyOf" in new:
            self.diff_union(old, new, path)
        elif _is_array(old) and _is_array(new) and "items" in old and "items" in new:
            self.diff(old["items"], new["items"], f"{path}[]", has_default=False)
            self.diff_keywords(old, new, path, skip={"items"})
        elif _is_mapping(old) and _is_mapping(new):
            self.diff(
                old["additionalProperties"], new["additionalProperties"], f"{path}{{}}", has_default=False
            )
            self.diff_keywords(old, new, path, skip={"additionalProperties"})
        else:
            self.diff_keywords(old, new, path, skip=set())

    def diff_struct(self, old: Schema, new: Schema, path: str) -> None:
        old_fields: dict[str, Any] = old.get("properties", {})
        new_fields: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(old_fields):
            where = _join(path, name)
            if name not in new_fields:
                self.report(where, "was removed (a renamed field shows as removed + added)")
                continue
            old_optional, new_optional = name not in old_required, name not in new_required
            if old_optional and not new_optional:
                self.report(where, "became required (it had a default)")
            elif new_optional and not old_optional:
                self.report(where, "became optional (consumers of this version expect it in every message)")
            elif old_optional and new_optional:
                old_default, new_default = _default(old_fields[name]), _default(new_fields[name])
                if old_default != new_default:
                    self.report(where, f"changed its default: {old_default} -> {new_default}")
            self.diff(old_fields[name], new_fields[name], where, has_default=old_optional and new_optional)
        for name in sorted(set(new_fields) - set(old_fields)):
            if name in new_required:
                self.report(
                    _join(path, name), "is new and required (a field added within a version needs a default)"
                )
            elif old.get("additionalProperties") is False:
                self.report(_join(path, name), "is new but this version rejects unknown fields")
        self.diff_keywords(old, new, path, skip={"properties", "required"})

    def diff_union(self, old: Schema, new: Schema, path: str) -> None:
        old_members = _members(old, self.old_root)
        new_members = _members(new, self.new_root)
        if old_members is None or new_members is None or set(old_members) != set(new_members):
            self.diff_keywords(old, new, path, skip=set())
            return
        several_structs = sum(key.startswith("struct") for key in old_members) > 1
        for key, old_member in old_members.items():
            where = (
                f"{path}<{key.partition(':')[2]}>" if several_structs and key.startswith("struct") else path
            )
            self.diff(old_member, new_members[key], where, has_default=False)
        self.diff_keywords(old, new, path, skip={"anyOf", "discriminator"})

    def diff_keywords(self, old: Schema, new: Schema, path: str, *, skip: Set[str]) -> None:
        old_rest = _canonical({k: v for k, v in old.items() if k not in skip}, self.old_root)
        new_rest = _canonical({k: v for k, v in new.items() if k not in skip}, self.new_root)
        if _dump(old_rest) == _dump(new_rest):
            return
        if _is_struct(old) and _is_struct(new):
            for key in sorted(set(old_rest) | set(new_rest)):
                before, after = old_rest.get(key, "absent"), new_rest.get(key, "absent")
                if _dump(before) != _dump(after):
                    self.report(path, f"changed {key}: {_dump(before)} -> {_dump(after)}")
            return
        old_text, new_text = _describe(old, self.old_root), _describe(new, self.new_root)
        self.report(path, f"changed type: {old_text} -> {new_text}")


def _resolve(node: Any, root: Schema) -> tuple[str | None, Any]:
    ref = None
    hops = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        node = _pointer(root, ref)
        hops += 1
        if hops > 64:
            raise ValueError(f"$ref loop at {ref!r}")
    return ref, node


def _pointer(root: Schema, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, not {ref!r}")
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _is_struct(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "object" and "properties" in node


def _is_array(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "array"


def _is_mapping(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and node.get("type") == "object"
        and "properties" not in node
        and isinstance(node.get("additionalProperties"), dict)
    )


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null"


def _allows_null(node: Any) -> bool:
    return _is_null(node) or any(_is_null(member) for member in node.get("anyOf", []))


def _without_null(node: Schema) -> Any:
    members = [member for member in node.get("anyOf", []) if not _is_null(member)]
    if len(members) == 1:
        return members[0]
    return {**node, "anyOf": members}


def _members(union: Schema, root: Schema) -> dict[str, Any] | None:
    """A union's members keyed by kind (``string``, ``null``, ``struct:<tag>``...); None if ambiguous."""
    tag_field = union.get("discriminator", {}).get("propertyName")
    members: dict[str, Any] = {}
    for member in union["anyOf"]:
        _, resolved = _resolve(member, root)
        key = _kind(resolved, tag_field)
        if key in members:
            return None
        members[key] = member
    return members


def _kind(node: Any, tag_field: str | None) -> str:
    if _is_struct(node):
        tag = node["properties"].get(tag_field, {}).get("enum", [""])[0] if tag_field else ""
        return f"struct:{tag}"
    if "enum" in node or "const" in node:
        return "enum"
    kind = node.get("type")
    return kind if isinstance(kind, str) else _dump(node)


def _canonical(node: Any, root: Schema, stack: tuple[str, ...] = ()) -> Any:
    """``node`` with references inlined, annotations dropped and unordered lists sorted."""
    if isinstance(node, list):
        return [_canonical(item, root, stack) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in stack:
            return {"$cycle": len(stack) - stack.index(ref)}
        return _canonical(_pointer(root, ref), root, (*stack, ref))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS:
            continue
        if key == "discriminator":
            out[key] = {"propertyName": value.get("propertyName"), "tags": sorted(value.get("mapping", {}))}
        elif key in ("anyOf", "oneOf", "allOf", "enum", "required", "type") and isinstance(value, list):
            out[key] = sorted((_canonical(item, root, stack) for item in value), key=_dump)
        else:
            out[key] = _canonical(value, root, stack)
    return out


def _describe(node: Any, root: Schema) -> str:
    """A short human form of a type: ``integer``, ``array of AssetRendition``, ``string | null``."""
    _, node = _resolve(node, root)
    if not isinstance(node, dict):
        return _dump(node)
    if _is_struct(node):
        return str(node.get("title", "object"))
    if "anyOf" in node:
        return " | ".join(_describe(member, root) for member in node["anyOf"])
    if "enum" in node:
        return "one of " + ", ".join(_dump(value) for value in node["enum"])
    kind = node.get("type", "any")
    text = kind if isinstance(kind, str) else _dump(kind)
    if kind == "array" and "items" in node:
        text = f"array of {_describe(node['items'], root)}"
    elif _is_mapping(node):
        text = f"object of {_describe(node['additionalProperties'], root)}"
    shown = {"type", "items", "additionalProperties", "properties", "required"}
    constraints = [f"{k}={_dump(v)}" for k, v in sorted(node.items()) if k not in _ANNOTATIONS | shown]
    return f"{text} ({', '.join(constraints)})" if constraints else text


def _default(field_schema: Any) -> str:
    if isinstance(field_schema, dict) and "default" in field_schema:
        return _dump(field_schema["default"])
    return _NO_DEFAULT


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
