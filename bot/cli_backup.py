"""`prevnet backup FILE` and `prevnet restore FILE` (README.md, "Backups").

The file work is in storage/backup.py. Here: which backend, the refusal to restore while a
bot process is alive (its heartbeat in `processes` is recent, or on SQLite it holds the
lock beside the database), the migrations after a restore, and the lines printed.
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import CliError

PERSONAL_DATA = ("it holds personal data, so store it encrypted, where only the people who run "
                 "the bot can read it")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="write a consistent copy of the database to FILE (the bot may keep running)",
        description="Write a consistent copy of the database of DATABASE_URL to FILE while "
        "the bot runs: SQLite with VACUUM INTO (then PRAGMA integrity_check), PostgreSQL "
        "with pg_dump --format=custom. FILE holds personal data: store it encrypted.",
    )
    p.add_argument("file", metavar="FILE", help="where to write the backup")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser(
        "restore",
        help="replace the database with the backup in FILE; run it with the bot stopped",
        description="Check the backup in FILE, put it in place of the database of "
        "DATABASE_URL, then apply the migrations it lacks. Run it with the bot stopped: it "
        "is refused while a bot process is alive.",
    )
    p.add_argument("file", metavar="FILE", help="a file written by `prevnet backup`")
    p.set_defaults(func=cmd_restore)


def _rows(rows: int | None) -> str:
    return "" if rows is None else f", {rows:,} rows"


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from bot.roles import is_sqlite, sqlite_file
    from storage.backup import BackupRefused, backup_postgres, backup_sqlite, size_text

    output = Path(args.file)
    try:
        if is_sqlite(settings.database_url):
            database = sqlite_file(settings.database_url)
            if database is None:
                raise CliError("DATABASE_URL is an in-memory SQLite database: nothing to back up")
            info = await asyncio.to_thread(backup_sqlite, database, output, force=args.force)
        else:
            info = await asyncio.to_thread(backup_postgres, settings.database_url, output,
                                           force=args.force)
    except BackupRefused as exc:
        raise CliError(str(exc)) from exc
    schema = f", schema {info.revision}" if info.revision else ""
    print(f"backed up to {output}: {size_text(info.size)}, {info.tables} tables"
          f"{_rows(info.rows)}{schema}; integrity checked")
    print(f"keep {output} safe: {PERSONAL_DATA}")
    return 0


async def refuse_if_alive(database_url: str) -> None:
    """CliError when a bot process beat within the alive window (bot/heartbeat.py)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.heartbeat import ALIVE_AFTER
    from storage.engine import create_engine, create_session_pool
    from storage.models import utcnow
    from storage.repositories import processes

    engine = create_engine(database_url)
    try:
        async with create_session_pool(engine)() as session:
            now = utcnow()
            alive = await processes.alive(session, now=now, within=ALIVE_AFTER)
    except (SQLAlchemyError, OSError) as exc:
        if "processes" in str(exc):  # a database from before heartbeats (migration 0007)
            return
        cause = getattr(exc, "orig", None) or exc  # the driver's words, not SQLAlchemy's
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(exc).__name__
        raise CliError(f"cannot read the database: {first}") from exc
    finally:
        await engine.dispose()
    if alive:
        p = alive[0]
        ago = max(int((now - p.last_seen).total_seconds()), 0)
        more = f" and {len(alive) - 1} more" if len(alive) > 1 else ""
        raise CliError(
            f"a bot process is alive on this database (prevnet {p.role}, pid {p.pid} on "
            f"{p.host}, last heartbeat {ago} s ago{more}): stop the bot before restoring "
            f"(a process that died counts as alive for {_seconds(ALIVE_AFTER)} s after its "
            "last heartbeat)"
        )


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


async def _migrate(database_url: str) -> tuple[str | None, str | None]:
    """Apply the migrations the restored database lacks: (revision before, after). The
    heartbeats the backup holds are forgotten: none of those processes runs on it."""
    from storage.engine import create_engine, create_session_pool
    from storage.migrate import current_revision, upgrade
    from storage.repositories import processes

    engine = create_engine(database_url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
        async with create_session_pool(engine)() as session:
            await processes.forget_all(session)
            await session.commit()
        return before, await current_revision(engine)
    finally:
        await engine.dispose()


async def _restore_sqlite(settings: Settings, backup: Path) -> None:
    from bot.roles import RoleRefused, single_process, sqlite_file
    from storage.backup import BackupRefused, restore_sqlite, size_text

    database = sqlite_file(settings.database_url)
    if database is None:
        raise CliError("DATABASE_URL is an in-memory SQLite database: nothing to restore into")
    lock = ExitStack()
    try:
        lock.enter_context(single_process(settings.database_url))
    except RoleRefused:
        raise CliError(f"the bot is running on {database} (it holds the lock beside it): "
                       "stop it before restoring") from None
    with lock:  # held while restoring: no bot starts on a half-restored database
        if database.exists():
            await refuse_if_alive(settings.database_url)
        try:
            info = await asyncio.to_thread(restore_sqlite, backup, database)
        except BackupRefused as exc:
            raise CliError(str(exc)) from exc
        before, after = await _migrate(settings.database_url)
    migrated = f", migrated from {before} to {after}" if before != after else ""
    print(f"restored {backup} into {database}: {size_text(info.size)}, {info.tables} tables"
          f"{_rows(info.rows)}; schema {after}{migrated}")


async def _restore_postgres(settings: Settings, backup: Path) -> None:
    from storage.backup import BackupRefused, restore_postgres, size_text
    from storage.copy import masked

    await refuse_if_alive(settings.database_url)
    try:
        info = await asyncio.to_thread(restore_postgres, backup, settings.database_url)
    except BackupRefused as exc:
        raise CliError(str(exc)) from exc
    before, after = await _migrate(settings.database_url)
    migrated = f", migrated from {before} to {after}" if before != after else ""
    print(f"restored {backup} into {masked(settings.database_url)}: {size_text(info.size)}, "
          f"{info.tables} tables; schema {after}{migrated}")


async def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from bot.roles import is_sqlite

    backup = Path(args.file)
    if is_sqlite(settings.database_url):
        await _restore_sqlite(settings, backup)
    else:
        await _restore_postgres(settings, backup)
    return 0
