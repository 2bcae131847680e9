"""The AsyncAPI 3.0 document of the events on the bus, built from the registry.

One channel per event version: its address is the routing key (the versioned type) on the
``codex.events`` topic exchange; one ``send`` operation by the producer service; one message whose
payload is the envelope with ``data`` set to the event. The envelope is the authority; the
CloudEvents attributes are repeated as AMQP headers (``amqp_headers``) so that brokers, dead-letter
tooling and operators can route and inspect a message without decoding its body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from codex_contracts.base import Event
from codex_contracts.envelope import Envelope

EVENTS_EXCHANGE = "codex.events"
"""The durable topic exchange every event is published to, with its versioned type as routing key."""

CLOUDEVENTS_HEADER_PREFIX = "cloudEvents_"
"""The CloudEvents AMQP binding's prefix for attributes carried as application properties."""

# The producing service, where it is not the first segment of the type itself.
_PRODUCERS = {"media": "media-dispatch"}

# CloudEvents attribute -> (envelope field, always present). datacontenttype is not repeated: it
# describes ``data`` inside the envelope, while the AMQP content-type describes the whole body.
_HEADER_ATTRIBUTES = {
    "specversion": ("specversion", True),
    "id": ("id", True),
    "source": ("source", True),
    "type": ("type", True),
    "time": ("time", True),
    "subject": ("subject", False),
    "correlationid": ("correlation_id", False),
    "causationid": ("causation_id", False),
}

_AMQP_BINDING = "0.3.0"
_REF = "#/components/schemas/{name}"


def producer(type_name: str) -> str:
    """The service that publishes ``type_name``: its first segment (``upload.completed.v1`` -> upload)."""
    segment = type_name.split(".", 1)[0]
    return _PRODUCERS.get(segment, segment)


def amqp_headers(envelope: Envelope) -> dict[str, str]:
    """The AMQP headers that carry the envelope's CloudEvents attributes, as the document declares them."""
    headers: dict[str, str] = {}
    for attribute, (field, _) in _HEADER_ATTRIBUTES.items():
        value = getattr(envelope, field)
        if value is not None:
            headers[CLOUDEVENTS_HEADER_PREFIX + attribute] = (
                value.isoformat() if field == "time" else str(value)
            )
    return headers


def build_asyncapi(events: Mapping[str, type[Event]]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``events`` (type name -> Struct), stable for equal input."""
    names = sorted(events)
    refs, components = msgspec.json.schema_components(
        [Envelope, *(events[name] for name in names)], ref_template=_REF
    )
    envelope_ref, event_refs = refs[0], dict(zip(names, refs[1:], strict=True))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name in names:
        cls = events[name]
        channels[name] = _channel(name, cls)
        operations[f"{name}.send"] = _operation(name, cls)
        messages[name] = _message(name, cls, envelope_ref, event_refs[name])
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Codex events",
            "version": "1.0.0",
            "description": (
                "The events of the Codex suite. Each version is its own channel; published versions "
                "are frozen (see contracts/README.md), and both versions are served while consumers "
                "move. Delivery is at least once and in any order: consumers deduplicate by the "
                "envelope id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "RabbitMQ of the local stack; elsewhere the broker named by AMQP_URL.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": components,
            "messages": messages,
            "messageTraits": {"CloudEventsHeaders": {"headers": _headers_schema()}},
        },
    }


def _channel(name: str, cls: type[Event]) -> dict[str, Any]:
    return {
        "address": name,
        "title": name,
        "description": f"{cls.__name__}: routing key {name!r} on the {EVENTS_EXCHANGE!r} topic exchange.",
        "messages": {cls.__name__: {"$ref": f"#/components/messages/{name}"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": EVENTS_EXCHANGE,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": _AMQP_BINDING,
            }
        },
    }


def _operation(name: str, cls: type[Event]) -> dict[str, Any]:
    service = producer(name)
    return {
        "action": "send",
        "title": f"{service} publishes {name}",
        "summary": f"The {service} service publishes {name} through its transactional outbox.",
        "channel": {"$ref": f"#/channels/{name}"},
        "messages": [{"$ref": f"#/channels/{name}/messages/{cls.__name__}"}],
        "tags": [{"name": service}],
        "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": _AMQP_BINDING}},
    }


def _message(name: str, cls: type[Event], envelope_ref: dict[str, Any], event_ref: dict[str, Any]) -> Any:
    subject = f" Subject: the event's {cls.subject_field}." if cls.subject_field else ""
    return {
        "name": name,
        "title": cls.__name__,
        "summary": f"The envelope of {name}, with the event as data.{subject}",
        "contentType": "application/json",
        "correlationId": {
            "description": "The id of the request or event that started this chain.",
            "location": "$message.payload#/correlation_id",
        },
        "traits": [{"$ref": "#/components/messageTraits/CloudEventsHeaders"}],
        "payload": {
            "allOf": [
                envelope_ref,
                {
                    "type": "object",
                    "properties": {"type": {"const": name}, "data": event_ref},
                    "required": ["type", "data"],
                },
            ]
        },
        "bindings": {"amqp": {"messageType": name, "bindingVersion": _AMQP_BINDING}},
    }


def _headers_schema() -> dict[str, Any]:
    properties = {
        CLOUDEVENTS_HEADER_PREFIX + attribute: {
            "type": "string",
            "description": f"CloudEvents {attribute!r}: the envelope's {field!r}.",
        }
        for attribute, (field, _) in _HEADER_ATTRIBUTES.items()
    }
    required = [CLOUDEVENTS_HEADER_PREFIX + a for a, (_, always) in _HEADER_ATTRIBUTES.items() if always]
    return {
        "type": "object",
        "description": (
            "The envelope's CloudEvents attributes as AMQP headers (CloudEvents AMQP binding, "
            "'cloudEvents_' prefix); the envelope in the body is authoritative."
        ),
        "properties": properties,
        "required": required,
    }
