"""The AsyncAPI document: one channel per event version, consistent references, and payload and
header schemas that accept the envelopes the code really produces."""

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import msgspec
import pytest

from codex_contracts import encode_envelope, new_envelope
from codex_contracts import events as v1
from codex_contracts.asyncapi import EVENTS_EXCHANGE, amqp_headers, build_asyncapi, producer
from codex_contracts.schema import CONTRACTS_ROOT, all_events

DOCUMENT: dict[str, Any] = json.loads((CONTRACTS_ROOT / "asyncapi.json").read_text())


def test_declares_asyncapi_3() -> None:
    assert DOCUMENT["asyncapi"] == "3.0.0"
    assert build_asyncapi(all_events()) == DOCUMENT


def test_one_channel_per_event_addressed_by_its_routing_key() -> None:
    events = all_events()

    assert set(DOCUMENT["channels"]) == set(events)
    for name, channel in DOCUMENT["channels"].items():
        binding = channel["bindings"]["amqp"]
        assert channel["address"] == name
        assert (binding["is"], binding["exchange"]["name"], binding["exchange"]["type"]) == (
            "routingKey",
            EVENTS_EXCHANGE,
            "topic",
        )


def test_jobs_that_do_not_travel_on_the_bus_have_no_channel() -> None:
    assert "media.transcode.job.v1" not in DOCUMENT["channels"]


def test_the_producer_sends_on_every_channel() -> None:
    sends = {op["channel"]["$ref"].removeprefix("#/channels/"): op for op in DOCUMENT["operations"].values()}

    assert set(sends) == set(DOCUMENT["channels"])
    assert all(op["action"] == "send" for op in sends.values())
    assert sends["upload.completed.v1"]["tags"] == [{"name": "upload"}]
    assert producer("media.asset.ready.v1") == "media-dispatch"


def test_every_reference_resolves() -> None:
    refs = list(references(DOCUMENT))

    assert refs
    for ref in refs:
        assert resolve(ref) is not None, ref


@pytest.mark.parametrize("with_parent", [False, True])
def test_payload_and_headers_accept_a_real_envelope(with_parent: bool) -> None:
    event = v1.UploadCompletedV1(
        upload_id="u1", owner_id="o1", bucket="media", key="u1/src.mp4", filename="src.mp4",
        content_type="video/mp4", size_bytes=1024, etag="abc", completed_at=datetime.now(UTC),
    )  # fmt: skip
    parent = new_envelope(event, source="codex/upload") if with_parent else None
    envelope = new_envelope(event, source="codex/upload", causation=parent)
    message = resolve(DOCUMENT["channels"]["upload.completed.v1"]["messages"]["UploadCompletedV1"]["$ref"])
    headers = resolve(message["traits"][0]["$ref"])["headers"]

    validator(message["payload"]).validate(json.loads(encode_envelope(envelope)))
    validator(headers).validate(amqp_headers(envelope))
    other = msgspec.structs.replace(envelope, type="purchase.completed.v1")
    with pytest.raises(jsonschema.ValidationError):
        validator(message["payload"]).validate(json.loads(encode_envelope(other)))


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    # AsyncAPI 3.0 schemas are JSON Schema draft 7; references point into the whole document.
    return jsonschema.Draft7Validator({**schema, "components": DOCUMENT["components"]})


def references(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(ref: str) -> Any:
    node: Any = DOCUMENT
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node
