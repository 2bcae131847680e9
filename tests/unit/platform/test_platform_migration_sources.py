"""Migration sources: which files count, in which order, and what their checksum covers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from codex_platform.db import MigrationError, MigrationSource, advisory_lock_key


def write(directory: Path, name: str, sql: str | bytes) -> None:
    path = directory / name
    if isinstance(sql, bytes):
        path.write_bytes(sql)
    else:
        path.write_text(sql)


def test_files_are_ordered_by_version_and_other_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "0010_add_index.sql", "CREATE INDEX ...;")
    write(tmp_path, "0002_add_column.sql", "ALTER TABLE ...;")
    write(tmp_path, "0001_create_users.sql", "CREATE TABLE users ();")
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "__init__.py", "")

    migrations = MigrationSource("auth", tmp_path).migrations()

    assert [(m.version, m.name) for m in migrations] == [
        (1, "create_users"),
        (2, "add_column"),
        (10, "add_index"),
    ]
    assert migrations[0].source == "auth"
    assert migrations[0].checksum == hashlib.sha256(b"CREATE TABLE users ();").hexdigest()


@pytest.mark.parametrize("name", ["1_create.sql", "0001-create.sql", "0001_Create.sql", "create.sql"])
def test_a_badly_named_sql_file_is_refused_by_name(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, "SELECT 1;")

    with pytest.raises(MigrationError, match=rf"^auth/{name}: migration file names must look like"):
        MigrationSource("auth", tmp_path).migrations()


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_create_users.sql", "SELECT 1;")
    write(tmp_path, "0001_create_sessions.sql", "SELECT 2;")

    with pytest.raises(MigrationError, match="version 0001 is also"):
        MigrationSource("auth", tmp_path).migrations()


def test_line_endings_do_not_change_the_checksum(tmp_path: Path) -> None:
    unix, windows = tmp_path / "unix", tmp_path / "windows"
    unix.mkdir()
    windows.mkdir()
    write(unix, "0001_t.sql", b"CREATE TABLE t ();\nSELECT 1;\n")
    write(windows, "0001_t.sql", b"CREATE TABLE t ();\r\nSELECT 1;\r\n")

    (a,) = MigrationSource("x", unix).migrations()
    (b,) = MigrationSource("x", windows).migrations()
    assert a.checksum == b.checksum


def test_a_package_resource_directory_is_a_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "codex_fake_service" / "migrations"
    package.mkdir(parents=True)
    write(tmp_path / "codex_fake_service", "__init__.py", "")
    write(package, "__init__.py", "")
    write(package, "0001_create_things.sql", "CREATE TABLE things ();")
    monkeypatch.syspath_prepend(str(tmp_path))

    migrations = MigrationSource("fake", "codex_fake_service.migrations").migrations()

    assert [m.filename for m in migrations] == ["0001_create_things.sql"]


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="is not a directory"):
        MigrationSource("auth", tmp_path / "nope").migrations()


def test_lock_keys_are_stable_per_schema_and_fit_a_bigint() -> None:
    assert advisory_lock_key("auth") == advisory_lock_key("auth")
    assert advisory_lock_key("auth") != advisory_lock_key("catalog")
    assert -(2**63) <= advisory_lock_key("auth") < 2**63
