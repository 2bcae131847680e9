"""Versioned contracts of the Codex suite: events on the bus and the GPU job. Depends on msgspec alone."""

from codex_contracts import events, transcode
from codex_contracts.base import (
    Contract,
    Event,
    UnknownContractType,
    contract,
    lookup,
    registry,
)
from codex_contracts.base import (
    events as event_types,
)
from codex_contracts.envelope import Envelope, decode_envelope, encode_envelope, new_envelope
from codex_contracts.schema import all_contracts

__all__ = [
    "Contract",
    "Envelope",
    "Event",
    "UnknownContractType",
    "all_contracts",
    "contract",
    "decode_envelope",
    "encode_envelope",
    "event_types",
    "events",
    "lookup",
    "new_envelope",
    "registry",
    "transcode",
]
