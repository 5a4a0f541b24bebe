"""Run Alembic migrations programmatically on an async engine.

Several processes may start at once on one PostgreSQL database (`prevnet run` in webhook
mode, `prevnet worker`): each upgrade takes a transaction-level advisory lock first, so
one applies the pending migrations while the others wait; the lock is released when that
transaction commits, and the next finds the schema at head and has nothing to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock's key for "the schema is being upgraded": b"prevnet" as a number.
MIGRATION_LOCK_KEY = int.from_bytes(b"prevnet", "big")

log = logging.getLogger(__name__)


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _lock(connection: Connection) -> None:
    """Hold the migration lock until this transaction ends (PostgreSQL only)."""
    if connection.dialect.name != "postgresql":
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
        log.info("another process is applying the migrations: waiting for it")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


def _locked_upgrade(connection: Connection, revision: str) -> None:
    _lock(connection)
    _upgrade(connection, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply pending migrations (idempotent; one process at a time on PostgreSQL)."""
    async with engine.begin() as conn:
        await conn.run_sync(_locked_upgrade, revision)


def pending_revisions(current: str | None) -> list[str]:
    """The migrations this code has and a database at ``current`` lacks, newest first
    (empty too when ``current`` is newer than this code)."""
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError

    script = ScriptDirectory.from_config(alembic_config())
    try:
        return [r.revision for r in script.iterate_revisions("heads", current or "base")]
    except RevisionError:
        return []


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's migration revision (None: never migrated); changes nothing."""
    from alembic.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
