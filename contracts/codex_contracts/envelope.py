"""The envelope every event travels in; its attributes map one to one to CloudEvents 1.0.

``id``, ``source``, ``type``, ``time``, ``subject``, ``datacontenttype`` and ``specversion`` are the
CloudEvents context attributes; ``correlation_id`` and ``causation_id`` are extension attributes
(CloudEvents spells extensions in lower case without separators: ``correlationid``, ``causationid``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from codex_contracts.base import Event, Timestamp, lookup


class Envelope(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    source: str
    type: str
    time: Timestamp
    data: Event
    subject: str | None = None
    datacontenttype: str = "application/json"
    specversion: str = "1.0"
    correlation_id: str | None = None
    causation_id: str | None = None

    def to_cloudevent(self) -> dict[str, Any]:
        """The structured-mode CloudEvents form of this envelope."""
        out: dict[str, Any] = {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.isoformat(),
            "datacontenttype": self.datacontenttype,
            "data": msgspec.to_builtins(self.data),
        }
        if self.subject is not None:
            out["subject"] = self.subject
        if self.correlation_id is not None:
            out["correlationid"] = self.correlation_id
        if self.causation_id is not None:
            out["causationid"] = self.causation_id
        return out


class _WireEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    source: str
    type: str
    time: Timestamp
    data: msgspec.Raw
    subject: str | None = None
    datacontenttype: str = "application/json"
    specversion: str = "1.0"
    correlation_id: str | None = None
    causation_id: str | None = None


def new_envelope(
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap an event: a fresh id, now as time, the event's type and subject; causation from a parent."""
    event_id = id or str(uuid.uuid4())
    if causation is not None:
        correlation_id = correlation_id or causation.correlation_id or causation.id
    return Envelope(
        id=event_id,
        source=source,
        type=event.type_name,
        time=time or datetime.now(UTC),
        data=event,
        subject=event.subject,
        correlation_id=correlation_id or event_id,
        causation_id=causation.id if causation is not None else None,
    )


_encoder = msgspec.json.Encoder()
_wire_decoder = msgspec.json.Decoder(_WireEnvelope)


def encode_envelope(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode_envelope(raw: bytes) -> Envelope:
    """Decode an envelope and its data by the registered type; raises msgspec.ValidationError,
    msgspec.DecodeError or UnknownContractType when the bytes are not a known event version."""
    wire = _wire_decoder.decode(raw)
    cls = lookup(wire.type)
    if not issubclass(cls, Event):
        raise msgspec.ValidationError(f"{wire.type!r} is not an event")
    data = msgspec.json.decode(wire.data, type=cls)
    return Envelope(
        id=wire.id,
        source=wire.source,
        type=wire.type,
        time=wire.time,
        data=data,
        subject=wire.subject,
        datacontenttype=wire.datacontenttype,
        specversion=wire.specversion,
        correlation_id=wire.correlation_id,
        causation_id=wire.causation_id,
    )
