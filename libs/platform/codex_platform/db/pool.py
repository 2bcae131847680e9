"""asyncpg pools bound to one service's schema, with JSON and JSONB decoded to Python values."""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import msgspec

__all__ = ["connect", "create_pool", "quote_ident", "validate_schema_name"]

# Unquoted Postgres identifiers, lower case, within NAMEDATALEN; keeps search_path unambiguous.
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def validate_schema_name(schema: str) -> str:
    """Return `schema` if it is a plain lower-case identifier, else raise `ValueError`."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
    return schema


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (schema, table) for interpolation into a statement."""
    return '"' + name.replace('"', '""') + '"'


def _encode_json(value: Any) -> str:
    # msgspec also encodes Structs, datetimes and UUIDs, so event payloads go in as they are.
    return msgspec.json.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register the JSON and JSONB codecs on a new connection."""
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode, format="text"
        )


async def create_pool(
    dsn: str,
    *,
    schema: str,
    min_size: int = 1,
    max_size: int = 10,
    **kwargs: Any,
) -> asyncpg.Pool:
    """Open a pool whose connections use `search_path=<schema>` and decode JSON/JSONB.

    Unqualified table names in queries then resolve to the service's own schema. Extra keyword
    arguments go to `asyncpg.create_pool` (e.g. `command_timeout`).
    """
    server_settings = {"search_path": validate_schema_name(schema), **kwargs.pop("server_settings", {})}
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings=server_settings,
        init=init_connection,
        **kwargs,
    )
    assert pool is not None  # only None when called without awaiting
    return pool


async def connect(dsn: str, *, schema: str | None = None, **kwargs: Any) -> asyncpg.Connection:
    """Open a single connection (scripts, migrations, tests) with the same codecs as `create_pool`."""
    server_settings = dict(kwargs.pop("server_settings", {}))
    if schema is not None:
        server_settings["search_path"] = validate_schema_name(schema)
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings=server_settings, **kwargs)
    await init_connection(conn)
    return conn
