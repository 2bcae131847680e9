"""Versioned contracts of the Codex suite: events on the bus and the GPU job. Depends on msgspec alone."""

from codex_contracts import events
from codex_contracts.base import (
    Contract,
    Event,
    UnknownContractType,
    contract,
    events as event_types,
    lookup,
    registry,
)
from codex_contracts.envelope import Envelope, decode_envelope, encode_envelope, new_envelope

__all__ = [
    "Contract",
    "Envelope",
    "Event",
    "UnknownContractType",
    "contract",
    "decode_envelope",
    "encode_envelope",
    "event_types",
    "events",
    "lookup",
    "new_envelope",
    "registry",
]
