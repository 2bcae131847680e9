"""OpenAPI schemas of msgspec Structs that say everything msgspec enforces on the wire.

Litestar's own Struct plugin drops part of what msgspec checks when it decodes a body: a Struct with
`forbid_unknown_fields=True` refuses unknown members, but its schema allowed them; a `msgspec.Meta`
constraint inside a union (`Annotated[int, Meta(ge=0)] | UnsetType`) or inside a container
(`list[Annotated[int, Meta(ge=1)]]`) was lost. A client generated from such a document sends what
the server refuses. This plugin builds Litestar's schema and then carries over, from msgspec's own
JSON schema of the same Struct (the decoder's rules, by construction), every constraint Litestar left
out. Constraints inside a union are set beside its `oneOf`, where Litestar puts those it keeps: each of
them applies to one JSON type only, so they still constrain just the alternative they came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIFormat, Schema

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

__all__ = ["WireTruthStructPlugin"]

# JSON Schema keyword -> Litestar's Schema attribute, for the keywords msgspec.Meta can produce.
_CONSTRAINTS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
    "minItems": "min_items",
    "maxItems": "max_items",
    "minProperties": "min_properties",
    "maxProperties": "max_properties",
    "uniqueItems": "unique_items",
}
_FORMATS = {member.value: member for member in OpenAPIFormat}


class WireTruthStructPlugin(StructSchemaPlugin):
    """Litestar's Struct schema plus what msgspec enforces and Litestar did not say (see the module)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        wire = wire_schema(field_definition.type_)
        if wire.get("additionalProperties") is False:
            schema.additional_properties = False
        wire_properties: dict[str, Any] = wire.get("properties", {})
        for name, documented in (schema.properties or {}).items():
            if isinstance(documented, Schema) and name in wire_properties:
                carry_constraints(wire_properties[name], documented)
        return schema


def wire_schema(struct_type: Any) -> dict[str, Any]:
    """msgspec's JSON schema of one Struct type (its own object schema, references left as they are)."""
    (reference,), components = msgspec.json.schema_components([struct_type], ref_template="{name}")
    found: dict[str, Any] = components[reference["$ref"]]
    return found


def carry_constraints(wire: dict[str, Any], documented: Schema) -> None:
    """Set on `documented` each constraint of `wire` (msgspec's schema of the same value) it lacks."""
    for alternative in _alternatives(wire):
        for keyword, attribute in _CONSTRAINTS.items():
            if keyword in alternative and getattr(documented, attribute) is None:
                setattr(documented, attribute, alternative[keyword])
        wire_format = alternative.get("format")
        if wire_format in _FORMATS and documented.format is None:
            documented.format = _FORMATS[wire_format]
        if isinstance(alternative.get("items"), dict):
            items = _documented_part(documented, "items")
            if items is not None:
                carry_constraints(alternative["items"], items)
        if isinstance(alternative.get("additionalProperties"), dict):
            values = _documented_part(documented, "additional_properties")
            if values is not None:
                carry_constraints(alternative["additionalProperties"], values)


def _alternatives(wire: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null, non-reference shapes a value may take (a union's arms, flattened)."""
    if "$ref" in wire or wire.get("type") == "null":
        return []
    arms = wire.get("anyOf") or wire.get("oneOf")
    if arms:
        return [shape for arm in arms for shape in _alternatives(arm)]
    return [wire]


def _documented_part(documented: Schema, attribute: str) -> Schema | None:
    """`documented.<attribute>` (items or additional_properties), looked for in its union's arms too."""
    for shape in (documented, *(documented.one_of or ()), *(documented.any_of or ())):
        part = getattr(shape, attribute, None) if isinstance(shape, Schema) else None
        if isinstance(part, Schema):
            return part
    return None
