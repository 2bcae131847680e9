"""compare(): which schema changes within a version are compatible, on schemas msgspec really emits."""

from typing import Annotated, Any, Literal

import msgspec
import pytest

from codex_contracts.compat import Incompatibility, compare

TYPE = "media.asset.ready.v9"


class Rendition(msgspec.Struct, kw_only=True):
    name: str
    width: int


class Ready(msgspec.Struct, kw_only=True):
    """The published version every case below is compared against."""

    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


# -- compatible -----------------------------------------------------------------------------------


class OptionalFieldAdded(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""
    codec: str = "h264"
    tags: list[str] = []


class RenditionWithHeight(msgspec.Struct, kw_only=True):
    name: str
    width: int
    height: int = 0


class NestedOptionalFieldAdded(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[RenditionWithHeight]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class Variant(msgspec.Struct, kw_only=True):
    """Renamed, documented and reordered: the same messages on the wire."""

    width: int
    name: str


class Reshuffled(msgspec.Struct, kw_only=True):
    """A docstring is documentation, not a change."""

    note: str = ""
    quality: Literal["hd", "sd"]
    duration_s: float
    thumbnail_key: None | str  # noqa: RUF036  (union order is what this case changes)
    renditions: list[Variant]
    asset_id: str


class NoneAddedWhereDefault(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str | None = ""


@pytest.mark.parametrize(
    "new", [Ready, OptionalFieldAdded, NestedOptionalFieldAdded, Reshuffled, NoneAddedWhereDefault]
)
def test_compatible_changes_pass(new: type[msgspec.Struct]) -> None:
    assert compare(schema(Ready), schema(new), TYPE) == []


# -- incompatible ---------------------------------------------------------------------------------


class FieldRemoved(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    quality: Literal["sd", "hd"]
    note: str = ""


class Retyped(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: int
    quality: Literal["sd", "hd"]
    note: str = ""


class RenditionRetyped(msgspec.Struct, kw_only=True):
    name: str
    width: str


class NestedRetyped(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[RenditionRetyped]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class ItemsRetyped(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[str]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class OptionalNarrowed(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class RequiredWidened(msgspec.Struct, kw_only=True):
    asset_id: str | None
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class UnionWidened(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | int | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class EnumExtended(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd", "uhd"]
    note: str = ""


class Constrained(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: Annotated[float, msgspec.Meta(ge=0)]
    quality: Literal["sd", "hd"]
    note: str = ""


class OptionalMadeRequired(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str


class RequiredMadeOptional(msgspec.Struct, kw_only=True):
    asset_id: str = ""
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


class DefaultChanged(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = "none"


class RequiredFieldAdded(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""
    codec: str


class RenditionWithRequiredHeight(msgspec.Struct, kw_only=True):
    name: str
    width: int
    height: int


class NestedRequiredFieldAdded(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[RenditionWithRequiredHeight]
    thumbnail_key: str | None
    duration_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


@pytest.mark.parametrize(
    ("new", "field", "words"),
    [
        (FieldRemoved, "duration_s", "removed"),
        (Retyped, "duration_s", "number -> integer"),
        (NestedRetyped, "renditions[].width", "integer -> string"),
        (ItemsRetyped, "renditions[]", "-> string"),
        (OptionalNarrowed, "thumbnail_key", "string | null -> string"),
        (RequiredWidened, "asset_id", "string -> string | null"),
        (UnionWidened, "thumbnail_key", "changed type"),
        (EnumExtended, "quality", '"uhd"'),
        (Constrained, "duration_s", "minimum=0"),
        (OptionalMadeRequired, "note", "became required"),
        (RequiredMadeOptional, "asset_id", "became optional"),
        (DefaultChanged, "note", 'default: "" -> "none"'),
        (RequiredFieldAdded, "codec", "new and required"),
        (NestedRequiredFieldAdded, "renditions[].height", "new and required"),
    ],
)
def test_incompatible_changes_name_the_field(new: type[msgspec.Struct], field: str, words: str) -> None:
    found = compare(schema(Ready), schema(new), TYPE)

    assert [problem.field for problem in found] == [field], found
    assert words in found[0].problem
    assert str(found[0]).startswith(f"{TYPE}: field '{field}' ")


class Renamed(msgspec.Struct, kw_only=True):
    asset_id: str
    renditions: list[Rendition]
    thumbnail_key: str | None
    length_s: float
    quality: Literal["sd", "hd"]
    note: str = ""


def test_a_rename_shows_as_removed_and_added() -> None:
    found = compare(schema(Ready), schema(Renamed), TYPE)

    assert {(problem.field, problem.problem.split(" (")[0]) for problem in found} == {
        ("duration_s", "was removed"),
        ("length_s", "is new and required"),
    }


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    asset_id: str


class StrictGrown(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    asset_id: str
    note: str = ""


def test_an_optional_field_breaks_consumers_that_reject_unknown_fields() -> None:
    found = compare(schema(Strict), schema(StrictGrown), TYPE)

    assert [(problem.field, problem.problem) for problem in found] == [
        ("note", "is new but this version rejects unknown fields")
    ]


class Tree(msgspec.Struct, kw_only=True):
    name: str
    children: list["Tree"] = []


class TreeRetyped(msgspec.Struct, kw_only=True):
    name: int
    children: list["TreeRetyped"] = []


def test_recursive_structs_are_compared_once() -> None:
    assert compare(schema(Tree), schema(Tree), TYPE) == []
    assert [problem.field for problem in compare(schema(Tree), schema(TreeRetyped), TYPE)] == ["name"]


class Cut(msgspec.Struct, tag="cut", kw_only=True):
    at_s: float


class Fade(msgspec.Struct, tag="fade", kw_only=True):
    duration_s: float


class FadeRetyped(msgspec.Struct, tag="fade", kw_only=True):
    duration_s: int


class Wipe(msgspec.Struct, tag="wipe", kw_only=True):
    angle: int


class Edit(msgspec.Struct, kw_only=True):
    transition: Cut | Fade


class EditFadeRetyped(msgspec.Struct, kw_only=True):
    transition: Cut | FadeRetyped


class EditWithWipe(msgspec.Struct, kw_only=True):
    transition: Cut | Fade | Wipe


def test_tagged_unions_compare_variant_by_tag() -> None:
    retyped = compare(schema(Edit), schema(EditFadeRetyped), TYPE)
    grown = compare(schema(Edit), schema(EditWithWipe), TYPE)

    assert [problem.field for problem in retyped] == ["transition<fade>.duration_s"]
    assert [problem.field for problem in grown] == ["transition"]
    assert "Cut | Fade -> Cut | Fade | Wipe" in grown[0].problem


def test_incompatibility_reads_as_one_line() -> None:
    problem = Incompatibility("upload.completed.v1", "etag", "was removed")

    assert str(problem) == "upload.completed.v1: field 'etag' was removed"
    assert str(Incompatibility("upload.completed.v1", None, "is gone")) == "upload.completed.v1: is gone"


def schema(cls: type[msgspec.Struct]) -> dict[str, Any]:
    return msgspec.json.schema(cls)
