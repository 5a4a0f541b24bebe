"""Which processes may share a database.

SQLite serves one bot process: `prevnet run` (updates and the worker's duties), holding an
exclusive lock on a file beside the database for as long as it runs. A second `prevnet
run` on the same file is refused, and so is `prevnet worker` on SQLite at all. The
command line's one-shot commands (network add, invite, export, digest send) take no lock
and keep working beside a running bot. On PostgreSQL any number of `prevnet run`
(webhook mode) and `prevnet worker` processes may share the database.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import CliError

SQLITE_WORKER_REFUSED = (
    "`prevnet worker` needs PostgreSQL. SQLite serves one process: `prevnet run` does the "
    "worker's duties; for several processes use PostgreSQL "
    "(DATABASE_URL=postgresql+asyncpg://...) and REDIS_URL"
)


class RoleRefused(CliError):
    """This process may not run on this database: one line on stderr, exit status 2."""


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite database file of ``database_url`` (None: not SQLite, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return None
    return Path(url.database).resolve()


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def refuse_worker_on_sqlite(database_url: str) -> None:
    if is_sqlite(database_url):
        raise RoleRefused(SQLITE_WORKER_REFUSED)


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextmanager
def single_process(database_url: str) -> Iterator[Path | None]:
    """On an SQLite file: an exclusive lock beside it for the life of the block, or
    `RoleRefused` when another bot process holds it. Elsewhere: nothing."""
    database = sqlite_file(database_url)
    if database is None:
        yield None
        return
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise RoleRefused(
                f"another prevnet process{holder} is running on {database}: SQLite serves "
                "one process; stop it first, or for several processes use PostgreSQL "
                "(DATABASE_URL=postgresql+asyncpg://...) and REDIS_URL"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the file releases the lock


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
