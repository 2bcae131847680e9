"""`run_schemathesis` fails on a document that lies and lets through only the refusals it is told of."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from litestar import get, post
from litestar.exceptions import ValidationException

from codex_platform.http import create_app, problems
from codex_platform.testing.schemathesis_run import Refusal, run_schemathesis


class Note(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


@post("/notes", operation_id="addNote", status_code=201, responses=problems(400))
async def add_note(data: Note) -> Note:
    # A rule the document does not state: the schema says any text of 1 to 20 characters.
    if len(data.text) > 10:
        raise ValidationException("text has at most 10 characters")
    return data


@get("/notes/count", operation_id="countNotes")
async def count_notes() -> int:
    return 1


def test_a_rule_the_document_does_not_state_fails_the_run() -> None:
    app = create_app(service="notes", route_handlers=[add_note, count_notes])
    with pytest.raises(AssertionError) as failed:
        run_schemathesis(app, tokens={"anyone": None}, max_examples=20)
    assert "POST /notes: positive_data_acceptance" in str(failed.value)


def test_a_listed_refusal_passes_and_is_reported() -> None:
    app = create_app(service="notes", route_handlers=[add_note, count_notes])
    blank = Refusal(
        "POST /notes", "positive_data_acceptance", "text over 10 characters is refused", status=400
    )
    report = run_schemathesis(app, tokens={"anyone": None}, max_examples=20, allowed=[blank])
    assert report.total_cases > 0 and report.failures == []
    assert [refusal for _, refusal in report.allowed] == [blank]
