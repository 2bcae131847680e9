"""Pools bound to a schema, JSON codecs, and the per-test database fixtures."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec
import pytest

from codex_platform.db import connect, create_pool


class Rendition(msgspec.Struct):
    height: int
    key: str


async def test_pool_connections_resolve_unqualified_names_in_the_schema(
    database_url: str, pg_schema: str
) -> None:
    pool = await create_pool(database_url, schema=pg_schema, min_size=1, max_size=2)
    try:
        await pool.execute("CREATE TABLE things (id int)")
        await pool.execute("INSERT INTO things VALUES (7)")

        assert await pool.fetchval("SHOW search_path") == pg_schema
        assert await pool.fetchval(f'SELECT id FROM "{pg_schema}".things') == 7  # noqa: S608
        assert await pool.fetchval("SELECT to_regclass('public.things')") is None
    finally:
        await pool.close()


async def test_json_and_jsonb_round_trip_as_python_values(db_pool: asyncpg.Pool) -> None:
    await db_pool.execute("CREATE TABLE assets (id uuid PRIMARY KEY, meta jsonb NOT NULL, raw json)")
    asset_id = uuid.uuid4()
    meta = {
        "renditions": [Rendition(1080, "a/1080.mp4"), Rendition(720, "a/720.mp4")],
        "ready_at": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "source": asset_id,
    }

    await db_pool.execute("INSERT INTO assets VALUES ($1, $2, $3)", asset_id, meta, [1, "two"])
    row = await db_pool.fetchrow("SELECT meta, raw FROM assets")

    assert row is not None
    assert row["meta"] == {
        "renditions": [{"height": 1080, "key": "a/1080.mp4"}, {"height": 720, "key": "a/720.mp4"}],
        "ready_at": "2025-01-02T03:04:05Z",
        "source": str(asset_id),
    }
    assert row["raw"] == [1, "two"]
    # Queries over jsonb see real JSON, not a quoted string.
    assert await db_pool.fetchval("SELECT meta->'renditions'->0->>'height' FROM assets") == "1080"


@pytest.mark.parametrize("schema", ["Auth", "auth; DROP TABLE x", "1auth", ""])
async def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(
    database_url: str, schema: str
) -> None:
    with pytest.raises(ValueError, match="schema name"):
        await create_pool(database_url, schema=schema)


async def test_pg_schema_is_fresh_and_unique_per_test(database_url: str, pg_schema: str) -> None:
    conn = await connect(database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", pg_schema
        )
        exists = await conn.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", pg_schema
        )
    finally:
        await conn.close()
    assert pg_schema.startswith("test_")
    assert (exists, tables) == (1, 0)
