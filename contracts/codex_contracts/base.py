"""The base of every contract: versioned, frozen msgspec Structs registered by type name.

A contract's type (``upload.completed.v1``) is its identity on the wire: the CloudEvents ``type``
attribute and the RabbitMQ routing key. Published versions are frozen: within a version only an
optional field with a default may be added; anything else is a new version, served beside the old.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, ClassVar, TypeVar

import msgspec

#: A point in time with its offset: naive datetimes are refused, and schemas say date-time.
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]

_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.v[1-9][0-9]*$")


class Contract(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """A versioned message body. Unknown fields are ignored so that producers may add optional ones."""

    type_name: ClassVar[str]


class Event(Contract, kw_only=True, frozen=True):
    """A fact that happened, published on the bus. ``subject_field`` names the field used as subject."""

    subject_field: ClassVar[str | None] = None

    @property
    def subject(self) -> str | None:
        if self.subject_field is None:
            return None
        value = getattr(self, self.subject_field)
        return None if value is None else str(value)


C = TypeVar("C", bound=type[Contract])

_REGISTRY: dict[str, type[Contract]] = {}


def contract(type_name: str) -> Callable[[C], C]:
    """Register a contract class under its versioned type name, e.g. ``@contract("upload.completed.v1")``."""

    if not _TYPE_RE.match(type_name):
        raise ValueError(f"contract type {type_name!r} must read '<producer>.<noun>.<past verb>.v<N>'")

    def register(cls: C) -> C:
        existing = _REGISTRY.get(type_name)
        if existing is not None and existing is not cls:
            raise ValueError(f"contract type {type_name!r} is already registered by {existing.__qualname__}")
        cls.type_name = type_name
        _REGISTRY[type_name] = cls
        return cls

    return register


def registry() -> dict[str, type[Contract]]:
    """Every registered contract type, by versioned type name."""
    return dict(_REGISTRY)


def events() -> dict[str, type[Event]]:
    """Every registered event type (the contracts that travel on the bus)."""
    return {name: cls for name, cls in _REGISTRY.items() if issubclass(cls, Event)}


def lookup(type_name: str) -> type[Contract]:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise UnknownContractType(type_name) from None


class UnknownContractType(LookupError):
    def __init__(self, type_name: str) -> None:
        super().__init__(f"unknown contract type {type_name!r}")
        self.type_name = type_name
