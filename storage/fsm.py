"""aiogram FSM storage in the database, so dialogs survive a restart without Redis.

aiogram reads the state of every update, so on SQLite (one bot process: bot/roles.py)
reads are served from a bounded in-process cache that every write goes through. On
PostgreSQL several processes may share the database, so every read asks the database and
each process sees the others' writes (Redis is faster for that: REDIS_URL)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import release_connection
from storage.models import FsmRecord, utcnow

Entry = tuple[str | None, dict[str, Any]]


def _key(key: StorageKey) -> str:
    parts = (
        key.bot_id,
        key.chat_id,
        key.user_id,
        key.thread_id or "",
        key.business_connection_id or "",
        key.destiny,
    )
    return ":".join(str(p) for p in parts)


def _single_process(session_pool: async_sessionmaker[AsyncSession]) -> bool:
    bind = session_pool.kw.get("bind")
    dialect = getattr(bind, "dialect", None)
    return getattr(dialect, "name", None) == "sqlite"


class SqlStorage(BaseStorage):
    def __init__(
        self,
        session_pool: async_sessionmaker[AsyncSession],
        cache_size: int = 10_000,
        *,
        cache: bool | None = None,
    ) -> None:
        """``cache``: serve reads from memory; by default only on SQLite (one process)."""
        self._pool = session_pool
        self._cache: OrderedDict[str, Entry] = OrderedDict()
        self._cache_size = cache_size
        self.caching = _single_process(session_pool) if cache is None else cache

    def _remember(self, k: str, entry: Entry) -> None:
        if not self.caching:
            return
        self._cache[k] = entry
        self._cache.move_to_end(k)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _read(self, k: str) -> Entry:
        cached = self._cache.get(k)
        if cached is not None:
            self._cache.move_to_end(k)
            return cached
        await release_connection()  # one connection at a time per update
        async with self._pool() as session:
            row = (
                await session.execute(
                    select(FsmRecord.state, FsmRecord.data).where(FsmRecord.key == k)
                )
            ).first()
        entry: Entry = (row[0], dict(row[1] or {})) if row else (None, {})
        self._remember(k, entry)
        return entry

    async def _write(self, key: StorageKey, **values: Any) -> None:
        k = _key(key)
        old_state, old_data = await self._read(k)
        state = values.get("state", old_state)
        data = values.get("data", old_data)
        if (state, data) == (old_state, old_data):
            return
        await release_connection()
        async with self._pool() as session:
            if state is None and not data:
                await session.execute(delete(FsmRecord).where(FsmRecord.key == k))
            else:
                done = await session.execute(
                    update(FsmRecord)
                    .where(FsmRecord.key == k)
                    .values(state=state, data=data, updated_at=utcnow())
                )
                if not done.rowcount:  # type: ignore[attr-defined]
                    session.add(FsmRecord(key=k, state=state, data=data))
            try:
                await session.commit()
            except IntegrityError:  # created meanwhile: write over it
                await session.rollback()
                await session.execute(
                    update(FsmRecord)
                    .where(FsmRecord.key == k)
                    .values(state=state, data=data, updated_at=utcnow())
                )
                await session.commit()
        self._remember(k, (state, copy.deepcopy(dict(data))))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._read(_key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        # A deep copy: a handler that changes a list it read must not change the cache.
        return copy.deepcopy((await self._read(_key(key)))[1])

    async def close(self) -> None:
        self._cache.clear()
