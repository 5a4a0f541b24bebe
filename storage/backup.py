"""Backups of a live database and their restore: `prevnet backup FILE`, `prevnet restore FILE`.

SQLite: ``VACUUM INTO`` a temporary file beside FILE, from a read transaction, so the bot
may go on writing (WAL mode) and the copy is one consistent snapshot. VACUUM writes a
fresh file of the live rows only, without free pages, so a row deleted before the backup
(a person who left, `/leave`) leaves no byte in it. The copy is checked (``PRAGMA
integrity_check`` is "ok", its schema revision is one this code knows), made readable by
its owner only, flushed to disk and renamed over FILE in one step.

PostgreSQL: ``pg_dump --format=custom`` (one snapshot), the password in PGPASSWORD and
never on the command line; restored with ``pg_restore --clean --if-exists --no-owner``.

A restore replaces the database of DATABASE_URL with the backup and applies the newer
migrations. It must run with the bot stopped: bot/cli_backup.py checks the heartbeats and,
on SQLite, the bot's lock file first. Nothing here imports the bot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from storage.engine import SQLITE_BUSY_TIMEOUT_MS

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
PG_TIMEOUT = 3600  # seconds a pg_dump or pg_restore may take


class BackupRefused(Exception):
    """Why the backup or restore did not happen, in one line without secrets."""


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    size: int  # bytes
    tables: int  # tables of the schema (alembic_version not counted)
    rows: int | None  # rows in them (None: not counted, a PostgreSQL dump)
    revision: str | None  # the schema's migration revision in the file


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


def known_revisions() -> set[str]:
    from storage.migrate import pending_revisions

    return set(pending_revisions(None))  # every revision, from the first to the head


# ------------------------------------------------------------------------ files


def check_target(output: Path, *, force: bool) -> None:
    """FILE may be written: its folder exists, it is no folder, and it is not there yet
    (or ``force``)."""
    if not output.parent.is_dir():
        raise BackupRefused(f"cannot write {output}: the folder {output.parent} does not exist")
    if output.is_dir():
        raise BackupRefused(f"cannot write {output}: it is a folder")
    if output.exists() and not force:
        raise BackupRefused(f"{output} already exists: give another name, or add --force "
                            "to overwrite it")


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be synced
        _fsync(folder)


def _publish(tmp: Path, final: Path) -> None:
    """Flush ``tmp`` to disk and rename it over ``final`` in one step."""
    _fsync(tmp)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


@contextlib.contextmanager
def _cleanup(tmp: Path) -> Iterator[None]:
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupRefused(f"cannot read {path}: {exc.strerror or exc}") from None


# ----------------------------------------------------------------------- SQLite


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None,
                           timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def verify_sqlite(path: Path, shown: Path | None = None) -> BackupInfo:
    """An SQLite file whose integrity check passes and whose schema this code knows;
    the messages name ``shown`` (the backup a temporary copy was made of)."""
    name = shown or path
    if _magic(path) != SQLITE_MAGIC:
        raise BackupRefused(f"{name} is not an SQLite database")
    try:
        conn = _connect(path)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupRefused(f"{name} is damaged: PRAGMA integrity_check says "
                                    f"{'; '.join(problems[:3])}")
            names = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            if "alembic_version" not in names:
                raise BackupRefused(f"{name} is not a prevnet database (no alembic_version)")
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            tables = [n for n in names if n != "alembic_version"]
            rows = sum(int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0])
                       for n in tables)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupRefused(f"{name} cannot be read as a database: {exc}") from None
    version = revision[0] if revision else None
    if version not in known_revisions():
        raise BackupRefused(f"{name} has the schema revision {version!r}, which this version "
                            "of prevnet does not know (is it from a newer one?)")
    return BackupInfo(path, path.stat().st_size, len(tables), rows, version)


def backup_sqlite(database: Path, output: Path, *, force: bool = False) -> BackupInfo:
    """A consistent, checked copy of the live ``database`` at ``output`` (blocking)."""
    if not database.is_file():
        raise BackupRefused(f"there is no database at {database}: DATABASE_URL must name the "
                            "database to back up")
    check_target(output, force=force)
    if output.exists() and os.path.samefile(output, database):
        raise BackupRefused(f"{output} is the live database itself")
    tmp = _temp_beside(output)
    with _cleanup(tmp):
        try:
            conn = _connect(database)
            try:
                conn.execute("VACUUM INTO ?", (str(tmp),))
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise BackupRefused(f"the backup of {database} failed: {exc}") from None
        os.chmod(tmp, 0o600)  # it holds personal data
        info = verify_sqlite(tmp, database)
        _publish(tmp, output)
    return BackupInfo(output, info.size, info.tables, info.rows, info.revision)


def sqlite_sidecars(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm",
                                                                       "-journal")]


def restore_sqlite(backup: Path, database: Path) -> BackupInfo:
    """Put the SQLite ``backup`` in place of ``database`` (blocking; the bot stopped).

    The backup is copied to a temporary file beside the database and checked there;
    the old database's -wal and -shm go, then the copy is renamed over it."""
    if not backup.is_file():
        raise BackupRefused(f"there is no backup at {backup}")
    if _magic(backup).startswith(PGDUMP_MAGIC):
        raise BackupRefused(f"{backup} is a PostgreSQL dump, and DATABASE_URL is SQLite")
    if database.exists() and os.path.samefile(backup, database):
        raise BackupRefused(f"{backup} is the live database itself")
    database.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(database)
    with _cleanup(tmp):
        try:
            shutil.copyfile(backup, tmp)
        except OSError as exc:
            raise BackupRefused(f"cannot copy {backup} to {database.parent}: "
                                f"{exc.strerror or exc}") from None
        os.chmod(tmp, 0o600)
        info = verify_sqlite(tmp, backup)
        for sidecar in sqlite_sidecars(database):
            with contextlib.suppress(FileNotFoundError):
                sidecar.unlink()
        _publish(tmp, database)
    return BackupInfo(database, info.size, info.tables, info.rows, info.revision)


# ------------------------------------------------------------------- PostgreSQL


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupRefused(
            f"{name} is not installed (it comes with the PostgreSQL client, e.g. the Debian "
            f"package postgresql-client): install it, or back up with your own tools"
        )
    return tool


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump and pg_restore; the password only in the env."""
    args = ["--no-password"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(argv: list[str], env: dict[str, str], what: str, secret: str | None) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=PG_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupRefused(f"{what} failed: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {done.returncode}"
        if secret:
            reason = reason.replace(secret, "***")
        raise BackupRefused(f"{what} failed: {reason}")
    return done.stdout


def _dump_tables(tool: str, path: Path, env: dict[str, str]) -> int:
    listing = _run([tool, "--list", str(path)], env, "pg_restore --list", None)
    return sum(1 for line in listing.splitlines()
               if " TABLE DATA " in line and " alembic_version " not in line)


def backup_postgres(database_url: str, output: Path, *, force: bool = False) -> BackupInfo:
    """``pg_dump --format=custom`` of the database at ``database_url`` (blocking)."""
    url = make_url(database_url)
    pg_dump, pg_restore = _pg_tool("pg_dump"), _pg_tool("pg_restore")
    check_target(output, force=force)
    args, env = _pg_args(url)
    tmp = _temp_beside(output)
    with _cleanup(tmp):
        _run([pg_dump, *args, "--format=custom", "--file", str(tmp), "--dbname",
              str(url.database)], env, "pg_dump", url.password)
        os.chmod(tmp, 0o600)
        tables = _dump_tables(pg_restore, tmp, env)  # also proves the file reads back
        _publish(tmp, output)
    return BackupInfo(output, output.stat().st_size, tables, None, None)


def restore_postgres(backup: Path, database_url: str) -> BackupInfo:
    """``pg_restore --clean --if-exists --no-owner`` into the database (blocking)."""
    url = make_url(database_url)
    pg_restore = _pg_tool("pg_restore")
    if not backup.is_file():
        raise BackupRefused(f"there is no backup at {backup}")
    magic = _magic(backup)
    if magic == SQLITE_MAGIC:
        raise BackupRefused(f"{backup} is an SQLite database, and DATABASE_URL is PostgreSQL: "
                            "`prevnet db copy` moves an SQLite database to PostgreSQL")
    if not magic.startswith(PGDUMP_MAGIC):
        raise BackupRefused(f"{backup} is not a pg_dump file in the custom format")
    args, env = _pg_args(url)
    tables = _dump_tables(pg_restore, backup, env)
    _run([pg_restore, *args, "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", "--dbname", str(url.database), str(backup)],
         env, "pg_restore", url.password)
    return BackupInfo(backup, backup.stat().st_size, tables, None, None)
