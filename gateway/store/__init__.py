"""SQL and asyncpg only: one module per aggregate, plus the pool and the migration runner."""

from __future__ import annotations

from gateway.store.db import DatabaseUnavailable, create_pool, ping
from gateway.store.migrate import MigrationError, apply_migrations, default_migrations_dir

__all__ = [
    "DatabaseUnavailable",
    "MigrationError",
    "apply_migrations",
    "create_pool",
    "default_migrations_dir",
    "ping",
]
