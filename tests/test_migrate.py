"""The migration runner: order, one transaction per file, the lock, checksums, errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from gateway.store.db import create_pool
from gateway.store.migrate import (
    MigrationError,
    apply_migrations,
    default_migrations_dir,
    discover,
)


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


async def recorded(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    return [(row["version"], row["name"]) for row in rows]


async def test_applies_files_in_numeric_order_once(empty_db_url: str, tmp_path: Path) -> None:
    # Written out of order, and 010 sorts after 002 only numerically-with-padding.
    migrations = write(
        tmp_path / "m",
        {
            "010_add_note.sql": "ALTER TABLE steps ADD COLUMN note text;\n"
            "INSERT INTO steps (n, note) VALUES (10, 'third');",
            "001_create.sql": "CREATE TABLE steps (n int NOT NULL);",
            "002_first_row.sql": "INSERT INTO steps (n) VALUES (2);",
        },
    )
    conn = await asyncpg.connect(empty_db_url)
    try:
        applied = await apply_migrations(conn, migrations)
        again = await apply_migrations(conn, migrations)
        steps = [row["n"] for row in await conn.fetch("SELECT n FROM steps ORDER BY n")]
        history = await recorded(conn)
    finally:
        await conn.close()
    assert applied == ["001_create.sql", "002_first_row.sql", "010_add_note.sql"]
    assert again == []
    assert steps == [2, 10]
    assert history == [(1, "001_create.sql"), (2, "002_first_row.sql"), (10, "010_add_note.sql")]


async def test_failing_file_rolls_back_alone_and_names_file_and_position(
    empty_db_url: str, tmp_path: Path
) -> None:
    migrations = write(
        tmp_path / "m",
        {
            "001_ok.sql": "CREATE TABLE kept (id int);",
            "002_broken.sql": "CREATE TABLE half_done (id int);\n\n"
            "SELECT id, no_such_column FROM half_done;\n",
            "003_later.sql": "CREATE TABLE never (id int);",
        },
    )
    conn = await asyncpg.connect(empty_db_url)
    try:
        with pytest.raises(MigrationError) as caught:
            await apply_migrations(conn, migrations)
        tables = {
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        history = await recorded(conn)
        # Fixing the file lets the next run continue where it stopped.
        write(migrations, {"002_broken.sql": "CREATE TABLE half_done (id int);"})
        resumed = await apply_migrations(conn, migrations)
    finally:
        await conn.close()
    message = str(caught.value)
    assert message.startswith("002_broken.sql: ")
    assert 'column "no_such_column" does not exist' in message
    assert "line 3, column 12" in message
    assert tables == {"kept", "schema_migrations"}
    assert history == [(1, "001_ok.sql")]
    assert resumed == ["002_broken.sql", "003_later.sql"]


async def test_syntax_error_reports_line_of_the_file(empty_db_url: str, tmp_path: Path) -> None:
    migrations = write(
        tmp_path / "m",
        {"001_bad.sql": "-- comment\nCREATE TABLE a (id int);\nCREATE TABLE b (id int,, x int);"},
    )
    conn = await asyncpg.connect(empty_db_url)
    try:
        with pytest.raises(MigrationError, match=r"001_bad\.sql: syntax error at or near \",\""):
            await apply_migrations(conn, migrations)
        with pytest.raises(MigrationError, match=r"line 3, column 24: CREATE TABLE b"):
            await apply_migrations(conn, migrations)
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_file_once(empty_db_url: str, tmp_path: Path) -> None:
    # The sleep keeps the first runner inside 002 while the second one arrives.
    migrations = write(
        tmp_path / "m",
        {
            "001_log.sql": "CREATE TABLE runs (file text NOT NULL);"
            "INSERT INTO runs VALUES ('001');",
            "002_slow.sql": "SELECT pg_sleep(0.3); INSERT INTO runs VALUES ('002');",
            "003_tail.sql": "INSERT INTO runs VALUES ('003');",
        },
    )
    pool_a = await create_pool(empty_db_url, min_size=1, max_size=1)
    pool_b = await create_pool(empty_db_url, min_size=1, max_size=1)
    try:
        first, second = await asyncio.gather(
            apply_migrations(pool_a, migrations), apply_migrations(pool_b, migrations)
        )
        runs = [row["file"] for row in await pool_a.fetch("SELECT file FROM runs ORDER BY file")]
    finally:
        await pool_a.close()
        await pool_b.close()
    assert sorted(first + second) == ["001_log.sql", "002_slow.sql", "003_tail.sql"]
    assert [] in (first, second)
    assert runs == ["001", "002", "003"]


async def test_changed_applied_file_is_refused(empty_db_url: str, tmp_path: Path) -> None:
    migrations = write(tmp_path / "m", {"001_t.sql": "CREATE TABLE t (id int);"})
    conn = await asyncpg.connect(empty_db_url)
    try:
        await apply_migrations(conn, migrations)
        write(migrations, {"001_t.sql": "CREATE TABLE t (id bigint);"})
        write(migrations, {"002_u.sql": "CREATE TABLE u (id int);"})
        with pytest.raises(MigrationError, match=r"001_t\.sql was changed after it was applied"):
            await apply_migrations(conn, migrations)
        # Nothing new ran: the refusal comes before any further file.
        assert await conn.fetchval("SELECT to_regclass('u')") is None
    finally:
        await conn.close()


def test_file_names_must_be_numbered(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"create_things\.sql: .* 001_name\.sql"):
        discover(write(tmp_path / "a", {"create_things.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match=r"version 1 is also used by 001_a\.sql"):
        discover(write(tmp_path / "b", {"001_a.sql": "SELECT 1;", "001_b.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match="not found"):
        discover(tmp_path / "missing")


def test_non_sql_files_are_ignored_and_checksums_follow_content(tmp_path: Path) -> None:
    directory = write(tmp_path / "m", {"001_a.sql": "SELECT 1;", "README.md": "notes"})
    (only,) = discover(directory)
    write(directory, {"001_a.sql": "SELECT 2;"})
    (changed,) = discover(directory)
    assert only.name == "001_a.sql" and only.version == 1
    assert only.checksum != changed.checksum


def test_default_directory_is_the_projects_migrations() -> None:
    assert default_migrations_dir() == Path(__file__).resolve().parents[1] / "migrations"
