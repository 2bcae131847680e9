"""The platform's OpenAPI documents state what msgspec enforces on the wire (codex_platform.http)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, patch, post
from litestar.testing import TestClient
from msgspec import UNSET, UnsetType

from codex_platform.http import create_app

Price = Annotated[int, msgspec.Meta(ge=0, le=1000)]
PartNumber = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern="^[a-z]+$")]


class Change(msgspec.Struct, forbid_unknown_fields=True):
    price: Price | UnsetType = UNSET
    parts: Annotated[list[PartNumber], msgspec.Meta(max_length=3)] | None = None
    labels: dict[str, Tag] = {}


class Echo(msgspec.Struct):
    price: int


@post("/changes", operation_id="change")
async def change(data: Change) -> Echo:
    return Echo(price=data.price if isinstance(data.price, int) else 0)


def document() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(service="t", route_handlers=[change]).openapi_schema.to_schema()
    return schema


def test_a_struct_that_refuses_unknown_fields_says_so_and_others_do_not() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["Change"]["additionalProperties"] is False
    assert "additionalProperties" not in schemas["Echo"]


def test_constraints_inside_unions_and_containers_are_stated() -> None:
    properties = document()["components"]["schemas"]["Change"]["properties"]
    assert (properties["price"]["minimum"], properties["price"]["maximum"]) == (0, 1000)
    parts = properties["parts"]
    assert parts["maxItems"] == 3
    items = next(arm["items"] for arm in parts["oneOf"] if arm.get("type") == "array")
    assert (items["minimum"], items["maximum"]) == (1, 10_000)
    label = properties["labels"]["additionalProperties"]
    assert (label["minLength"], label["maxLength"], label["pattern"]) == (1, 20, "^[a-z]+$")


def test_what_the_document_refuses_the_wire_refuses() -> None:
    app = create_app(service="t", route_handlers=[change])
    with TestClient(app) as client:
        assert client.post("/changes", json={"price": 5}).status_code == 201
        for refused in ({"price": -1}, {"parts": [0]}, {"labels": {"a": "UPPER"}}, {"colour": "red"}):
            assert client.post("/changes", json=refused).status_code == 400, refused


def test_options_lists_every_method_of_the_path() -> None:
    @get("/changes/{change_id:int}", operation_id="getChange")
    async def get_change(change_id: int) -> Echo:
        return Echo(price=change_id)

    @patch("/changes/{change_id:int}", operation_id="patchChange")
    async def patch_change(change_id: int) -> Echo:
        return Echo(price=change_id)

    with TestClient(create_app(service="t", route_handlers=[get_change, patch_change])) as client:
        answer = client.options("/changes/1")
        assert answer.status_code == 204
        assert answer.headers["allow"] == "GET, OPTIONS, PATCH"
