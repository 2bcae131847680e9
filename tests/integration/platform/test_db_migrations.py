"""The migration runner against a real Postgres: order, once only, concurrency, tamper refusal."""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
import textwrap
from pathlib import Path

import pytest

from codex_platform.db import MigrationError, MigrationSource, connect, migrate, run_migrations


def write(directory: Path, name: str, sql: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(sql))
    return path


@pytest.fixture
def auth_dir(tmp_path: Path) -> Path:
    """Two dependent migrations; 0002 inserts a row, so applying it twice would be visible."""
    directory = tmp_path / "auth"
    write(
        directory, "0001_create_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);"
    )
    write(
        directory,
        "0002_seed_admin.sql",
        """
        ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'customer';
        INSERT INTO users (id, email, role) VALUES (1, 'admin@codex.test', 'admin');
        """,
    )
    return directory


async def fetch(database_url: str, schema: str, query: str) -> list[dict[str, object]]:
    conn = await connect(database_url, schema=schema)
    try:
        return [dict(r) for r in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_applies_in_order_into_the_schema_and_records_each(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    applied = await migrate(database_url, schema=pg_schema, sources=[MigrationSource("auth", auth_dir)])

    assert [str(m) for m in applied] == ["auth 0001_create_users", "auth 0002_seed_admin"]
    users = await fetch(database_url, pg_schema, "SELECT email, role FROM users")
    assert users == [{"email": "admin@codex.test", "role": "admin"}]
    recorded = await fetch(
        database_url,
        pg_schema,
        "SELECT source, version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
    )
    assert [(r["source"], r["version"], r["name"]) for r in recorded] == [
        ("auth", 1, "create_users"),
        ("auth", 2, "seed_admin"),
    ]
    sql = (auth_dir / "0001_create_users.sql").read_bytes()
    assert recorded[0]["checksum"] == hashlib.sha256(sql).hexdigest()
    assert recorded[0]["applied_at"] is not None
    # Unqualified names landed in the service's schema, not in public.
    public = await fetch(database_url, "public", "SELECT to_regclass('public.users') AS t")
    assert public == [{"t": None}]


async def test_a_second_run_applies_nothing_and_a_new_file_alone(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    sources = [MigrationSource("auth", auth_dir)]
    await migrate(database_url, schema=pg_schema, sources=sources)

    assert await migrate(database_url, schema=pg_schema, sources=sources) == []

    write(auth_dir, "0003_create_sessions.sql", "CREATE TABLE sessions (user_id bigint REFERENCES users);")
    applied = await migrate(database_url, schema=pg_schema, sources=sources)
    assert [str(m) for m in applied] == ["auth 0003_create_sessions"]
    assert await fetch(database_url, pg_schema, "SELECT count(*) AS n FROM users") == [{"n": 1}]


async def test_creates_a_missing_schema(database_url: str, pg_schema: str, auth_dir: Path) -> None:
    conn = await connect(database_url)
    await conn.execute(f'DROP SCHEMA "{pg_schema}"')
    await conn.close()

    await migrate(database_url, schema=pg_schema, sources=[MigrationSource("auth", auth_dir)])

    assert await fetch(database_url, pg_schema, "SELECT count(*) AS n FROM users") == [{"n": 1}]


async def test_sources_share_a_schema_in_the_order_given(
    database_url: str, pg_schema: str, tmp_path: Path, auth_dir: Path
) -> None:
    bus_dir = tmp_path / "bus"
    write(bus_dir, "0001_outbox.sql", "CREATE TABLE outbox (id uuid PRIMARY KEY, payload jsonb NOT NULL);")
    write(auth_dir, "0003_outbox_index.sql", "CREATE INDEX outbox_payload ON outbox USING gin (payload);")
    sources = [MigrationSource("bus", bus_dir), MigrationSource("auth", auth_dir)]

    applied = await migrate(database_url, schema=pg_schema, sources=sources)

    assert [str(m) for m in applied] == [
        "bus 0001_outbox",
        "auth 0001_create_users",
        "auth 0002_seed_admin",
        "auth 0003_outbox_index",
    ]
    recorded = await fetch(database_url, pg_schema, "SELECT source, version FROM schema_migrations")
    assert sorted((r["source"], r["version"]) for r in recorded) == [
        ("auth", 1),
        ("auth", 2),
        ("auth", 3),
        ("bus", 1),
    ]


async def test_an_edited_applied_migration_is_refused_before_anything_runs(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    sources = [MigrationSource("auth", auth_dir)]
    await migrate(database_url, schema=pg_schema, sources=sources)
    write(auth_dir, "0001_create_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email citext);")
    write(auth_dir, "0003_create_sessions.sql", "CREATE TABLE sessions (id bigint);")

    with pytest.raises(MigrationError, match=r"^auth/0001_create_users\.sql: changed after it was applied"):
        await migrate(database_url, schema=pg_schema, sources=sources)

    tables = await fetch(database_url, pg_schema, "SELECT to_regclass('sessions') AS t")
    assert tables == [{"t": None}]


async def test_a_failing_migration_is_rolled_back_and_named(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    write(
        auth_dir,
        "0003_broken.sql",
        "CREATE TABLE half_done (id int); ALTER TABLE no_such_table ADD COLUMN x int;",
    )
    sources = [MigrationSource("auth", auth_dir)]

    with pytest.raises(MigrationError, match=r"^auth/0003_broken\.sql: UndefinedTableError"):
        await migrate(database_url, schema=pg_schema, sources=sources)

    # 0001 and 0002 stay applied; 0003 left nothing behind and is still pending.
    recorded = await fetch(database_url, pg_schema, "SELECT version FROM schema_migrations ORDER BY 1")
    assert [r["version"] for r in recorded] == [1, 2]
    assert await fetch(database_url, pg_schema, "SELECT to_regclass('half_done') AS t") == [{"t": None}]


async def test_concurrent_runners_apply_each_migration_once(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    # A slow migration keeps the first runner inside the lock while the others arrive.
    write(auth_dir, "0003_slow.sql", "SELECT pg_sleep(0.3); INSERT INTO users (id, email) VALUES (2, 'b@x');")
    sources = [MigrationSource("auth", auth_dir)]

    results = await asyncio.gather(
        *(migrate(database_url, schema=pg_schema, sources=sources) for _ in range(3))
    )

    assert sorted(len(r) for r in results) == [0, 0, 3]
    assert await fetch(database_url, pg_schema, "SELECT count(*) AS n FROM users") == [{"n": 2}]


async def test_concurrent_processes_apply_each_migration_once(
    database_url: str, pg_schema: str, auth_dir: Path
) -> None:
    write(auth_dir, "0003_slow.sql", "SELECT pg_sleep(0.3); INSERT INTO users (id, email) VALUES (2, 'b@x');")
    script = (
        "import sys; from pathlib import Path; "
        "from codex_platform.db import MigrationSource, run_migrations; "
        "sys.exit(run_migrations(sys.argv[1], schema=sys.argv[2], "
        "sources=[MigrationSource('auth', Path(sys.argv[3]))]))"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            script,
            database_url,
            pg_schema,
            str(auth_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=120)

    assert [p.returncode for p in processes] == [0, 0], outputs
    printed = sorted((out.decode() for out, _ in outputs), key=len)
    assert printed[0] == f"{pg_schema}: up to date\n"
    assert printed[1].count("applied") == 3
    assert await fetch(database_url, pg_schema, "SELECT count(*) AS n FROM users") == [{"n": 2}]


async def test_run_migrations_prints_what_it_applied_and_fails_with_one_line(
    database_url: str, pg_schema: str, auth_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = [MigrationSource("auth", auth_dir)]
    out = io.StringIO()

    status = await asyncio.to_thread(run_migrations, database_url, schema=pg_schema, sources=sources, out=out)

    assert status == 0
    assert out.getvalue().splitlines() == [
        f"applied {pg_schema}: auth 0001_create_users",
        f"applied {pg_schema}: auth 0002_seed_admin",
    ]
    write(auth_dir, "0002_seed_admin.sql", "SELECT 1;")
    status = await asyncio.to_thread(run_migrations, database_url, schema=pg_schema, sources=sources, out=out)
    assert status == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("migration error: auth/0002_seed_admin.sql: changed after it was applied")
