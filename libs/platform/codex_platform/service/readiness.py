"""Readiness checks derived from what a service's deps hold: a Postgres pool, Redis, object storage.

The checks are named from the deps' declared types (so /readyz and its OpenAPI are known before the
deps exist) and run against the live deps on each probe.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from redis.asyncio import Redis

from codex_platform.http.health import ReadinessCheck
from codex_platform.storage import Storage

__all__ = ["Readiness", "readiness_checks"]


@typing.runtime_checkable
class Readiness(typing.Protocol):
    """A dependency of a service's own kind that can say whether it is usable (raise if not)."""

    async def check_ready(self) -> None: ...


async def _database(pool: asyncpg.Pool[Any]) -> None:
    await pool.fetchval("SELECT 1")


async def _redis(redis: Redis) -> None:
    await redis.ping()


async def _storage(storage: Storage) -> None:
    await storage.client.head_bucket(Bucket=storage.bucket)


async def _own(dep: Readiness) -> None:
    await dep.check_ready()


_KINDS: list[tuple[type[Any], str, Callable[[Any], Awaitable[None]]]] = [
    (asyncpg.Pool, "database", _database),
    (Redis, "redis", _redis),
    (Storage, "storage", _storage),
]


def _kind(hint: Any) -> tuple[str, Callable[[Any], Awaitable[None]]] | None:
    origin = typing.get_origin(hint) or hint
    if not isinstance(origin, type):
        return None
    for cls, name, check in _KINDS:
        if issubclass(origin, cls):
            return name, check
    if issubclass(origin, Readiness):
        return "", _own
    return None


def _field_types(deps_type: type[Any]) -> dict[str, Any]:
    """The deps' field types; generic arguments are dropped where they cannot be evaluated at run
    time (`asyncpg.Pool[Any]` is only subscriptable for type checkers)."""
    try:
        return typing.get_type_hints(deps_type)
    except TypeError:
        namespace = vars(sys.modules[deps_type.__module__])
        types: dict[str, Any] = {}
        for field in dataclasses.fields(deps_type):
            annotation = field.type
            if isinstance(annotation, str):
                try:
                    annotation = eval(re.sub(r"\[.*\]", "", annotation), namespace)  # noqa: S307
                except Exception:
                    annotation = None
            types[field.name] = annotation
        return types


def readiness_checks(deps_type: type[Any], current: Callable[[], Any]) -> dict[str, ReadinessCheck]:
    """One check per field of the `deps_type` dataclass that is a pool, Redis, storage or `Readiness`;
    `current()` returns the live deps object when a probe runs."""
    hints = _field_types(deps_type)
    checks: dict[str, ReadinessCheck] = {}
    for field in dataclasses.fields(deps_type):
        kind = _kind(hints.get(field.name))
        if kind is None:
            continue
        name, check = kind

        def probe(attr: str = field.name, check: Callable[[Any], Awaitable[None]] = check) -> Awaitable[None]:
            return check(getattr(current(), attr))

        checks[name or field.name] = probe
    return checks
