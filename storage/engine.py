"""Engine and session factory; SQLite gets WAL, a busy timeout and foreign keys.

Every engine also notes, for each pooled connection it hands out, the *scope* it was
taken in (an update being handled, a scheduled job run, a delivery sender: `db_scope`),
so the bot can check that no connection of that scope is held while it waits on Telegram
(`connections_held`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from storage import crypto

SQLITE_BUSY_TIMEOUT_MS = 10_000

# Pool sizes when the settings leave them unset. SQLite has one writer at a time, so more
# connections only queue on its lock; PostgreSQL serves more at once.
POOL_DEFAULTS: dict[str, dict[str, int]] = {
    "sqlite": {"pool_size": 5, "max_overflow": 5},
    "postgresql": {"pool_size": 10, "max_overflow": 10},
}

# id(connection record) -> the scope it was checked out in.
_holders: dict[int, object] = {}
_SCOPE: ContextVar[object | None] = ContextVar("prevnet_db_scope", default=None)


@contextmanager
def db_scope() -> Iterator[object]:
    """Connections taken in this block (this task and the tasks it starts) belong to one
    scope, which `connections_held` counts."""
    scope = object()
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


_UPDATE_SESSION: ContextVar[AsyncSession | None] = ContextVar("prevnet_db_session", default=None)


@contextmanager
def update_session(session: AsyncSession) -> Iterator[None]:
    """The session of the update being handled in this block (this task): it is committed
    before a request to Telegram and before another session takes a connection."""
    token = _UPDATE_SESSION.set(session)
    try:
        yield
    finally:
        _UPDATE_SESSION.reset(token)


async def release_connection() -> None:
    """Commit the current update's session if it is in a transaction, so its connection
    goes back to the pool (the session takes one again on its next query); a no-op
    outside an update."""
    session = _UPDATE_SESSION.get()
    if session is not None and session.in_transaction():
        await session.commit()


class NestedConnectionWarning(RuntimeWarning):
    """A scope took a second connection while holding one: with a small pool, enough of
    these at once wait for each other until the pool times out."""


def _track(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        scope = _SCOPE.get()
        if scope is not None:
            if any(holder is scope for holder in _holders.values()):
                warnings.warn(
                    "a second database connection taken while this update or job holds one",
                    NestedConnectionWarning,
                    stacklevel=2,
                )
            _holders[id(record)] = scope

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        _holders.pop(id(record), None)


def _skip_idle_transaction_ends(engine: AsyncEngine) -> None:
    """COMMIT and ROLLBACK only when SQLite is in a transaction.

    The driver hands every call to its connection's thread and back; a read-only update
    (a member's /help) would otherwise pay two such round trips for nothing: the commit
    that gives its connection back, and the pool's rollback when it comes back. SQLite
    says itself whether a transaction is open (reads outside one start none).
    """
    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def in_transaction(dbapi_connection: Any) -> bool:
        raw = getattr(getattr(dbapi_connection, "_connection", None), "_conn", None)
        return bool(getattr(raw, "in_transaction", True))

    def do_commit(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if in_transaction(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def connections_held() -> int:
    """How many pooled connections the current scope has checked out (0 outside one)."""
    scope = _SCOPE.get()
    if scope is None or not _holders:
        return 0
    return sum(1 for holder in _holders.values() if holder is scope)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    backend = url.get_backend_name()
    memory = backend == "sqlite" and (not url.database or url.database == ":memory:")
    if not memory:
        for key, value in POOL_DEFAULTS.get(backend, {}).items():
            if kwargs.get(key) is None:
                kwargs[key] = value
    else:
        for key in ("pool_size", "max_overflow", "pool_timeout"):
            kwargs.pop(key, None)
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            if crypto.enabled():  # deleted and overwritten plaintext is zeroed, not left
                cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        _skip_idle_transaction_ends(engine)
        _track(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    _track(engine)
    return engine


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_session_pool(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
