"""aiogram FSM storage in the database, so dialogs survive a restart without Redis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord, utcnow


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


class SqlStorage(BaseStorage):
    def __init__(self, session_pool: async_sessionmaker[AsyncSession]) -> None:
        self._pool = session_pool

    async def _write(self, key: StorageKey, **values: Any) -> None:
        k = _key(key)
        async with self._pool() as session:
            record = await session.get(FsmRecord, k)
            state = values.get("state", record.state if record else None)
            data = values.get("data", record.data if record else {})
            if state is None and not data:
                if record is not None:
                    await session.execute(delete(FsmRecord).where(FsmRecord.key == k))
                    await session.commit()
                return
            if record is None:
                session.add(FsmRecord(key=k, **values))
                try:
                    await session.commit()
                    return
                except IntegrityError:
                    await session.rollback()
            await session.execute(
                update(FsmRecord).where(FsmRecord.key == k).values(updated_at=utcnow(), **values)
            )
            await session.commit()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._pool() as session:
            return await session.scalar(select(FsmRecord.state).where(FsmRecord.key == _key(key)))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._pool() as session:
            data = await session.scalar(select(FsmRecord.data).where(FsmRecord.key == _key(key)))
        return dict(data or {})

    async def close(self) -> None:
        return None
