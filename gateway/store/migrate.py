"""Numbered SQL migrations, applied in order and recorded in `schema_migrations`.

Why plain numbered .sql files over an ORM migration tool: the schema is the
contract between the gateway and the finance/compliance queries people run
by hand, so it should be readable SQL. Each file runs in its own transaction:
a failing file leaves every earlier file applied and itself not at all.

Why the advisory lock: two instances starting together (a rolling deploy)
would otherwise both see a migration as missing and both run it. The lock is
session-level on one connection, so it is released even if we crash.

Why checksums: editing an applied migration silently forks the schema between
databases that ran the old text and those that run the new one. We refuse to
start instead and say which file changed. Files must not contain their own
BEGIN/COMMIT (the runner owns the transaction).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from gateway.logs import get_logger

# The bytes of "gatewy:1"; any fixed 64-bit key works as long as every instance uses it.
MIGRATION_LOCK_KEY = 0x6761_7465_7779_3A31
FILE_PATTERN = re.compile(r"^(?P<version>\d{3,})_(?P<label>[A-Za-z0-9_]+)\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
LIST_APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
INSERT_APPLIED = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"

log = get_logger(__name__)


class MigrationError(Exception):
    """A migration could not be found, verified or applied; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name, e.g. "001_core.sql"
    sql: str
    checksum: str


def default_migrations_dir() -> Path:
    """ROOT/migrations in a checkout; ./migrations in an installed image (see Dockerfile)."""
    beside_package = Path(__file__).resolve().parents[2] / "migrations"
    if beside_package.is_dir():
        return beside_package
    in_cwd = Path.cwd() / "migrations"
    return in_cwd if in_cwd.is_dir() else beside_package


def discover(directory: Path) -> list[Migration]:
    """Every NNN_name.sql file in version order; other .sql names are an error, not ignored."""
    if not directory.is_dir():
        raise MigrationError(f"migrations directory {directory} not found")
    by_version: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named like 001_name.sql")
        version = int(match["version"])
        if version in by_version:
            raise MigrationError(
                f"{path.name}: version {version} is also used by {by_version[version].name}"
            )
        data = path.read_bytes()
        by_version[version] = Migration(
            version=version,
            name=path.name,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
    return [by_version[version] for version in sorted(by_version)]


async def apply_migrations(
    target: asyncpg.Connection | asyncpg.Pool, directory: Path | None = None
) -> list[str]:
    """Apply what is missing; return the file names applied now (empty when up to date)."""
    migrations = discover(directory if directory is not None else default_migrations_dir())
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await _apply_locked(conn, migrations)
    return await _apply_locked(target, migrations)


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(CREATE_TABLE)
        recorded = {row["version"]: row for row in await conn.fetch(LIST_APPLIED)}
        _verify_recorded(migrations, recorded)
        applied: list[str] = []
        for migration in migrations:
            if migration.version in recorded:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        INSERT_APPLIED, migration.version, migration.name, migration.checksum
                    )
            except asyncpg.PostgresError as err:
                raise MigrationError(describe_sql_error(migration, err)) from err
            log.info("migration_applied", migration=migration.name)
            applied.append(migration.name)
        return applied
    finally:
        # If the connection died, the server has already dropped the lock with the session.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


def _verify_recorded(migrations: list[Migration], recorded: dict[int, asyncpg.Record]) -> None:
    known = {migration.version for migration in migrations}
    for migration in migrations:
        row = recorded.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(
                f"{migration.name} was changed after it was applied (recorded as {row['name']}); "
                "applied migrations are immutable: restore the file and add a new migration"
            )
    unknown = sorted(set(recorded) - known)
    if unknown:
        log.warning("migrations_unknown_to_this_build", versions=unknown)


def describe_sql_error(migration: Migration, err: asyncpg.PostgresError) -> str:
    """'002_x.sql: <server message> (SQLSTATE ...) at line L, column C: <that line>'."""
    message = f"{migration.name}: {err} (SQLSTATE {err.sqlstate})"
    position = getattr(err, "position", None)
    if position and str(position).isdigit():
        before = migration.sql[: int(position) - 1]
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        source_line = migration.sql.splitlines()[line - 1].strip() if migration.sql else ""
        message += f" at line {line}, column {column}: {source_line}"
    return message
