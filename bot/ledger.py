"""Each Telegram update_id is handled once, even when it is delivered again.

Long polling redelivers the updates whose offset was not confirmed when the bot stopped,
and a webhook may be retried. Every update_id is therefore recorded in the database
(`processed_updates`) before its handler runs. Updates arriving together are recorded
together: one transaction for a batch (a group commit) instead of one writer per update,
which on SQLite would queue on the database's single write lock; recent ids are also
remembered in memory so a duplicate within one process costs no query.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import utcnow
from storage.repositories import updates

log = logging.getLogger(__name__)


class UpdateLedger:
    def __init__(self, session_pool: async_sessionmaker[AsyncSession], remember: int = 20_000):
        self._pool = session_pool
        self._remember_max = remember
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._pending: dict[int, list[asyncio.Future[bool]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def claim(self, update_id: int) -> bool:
        """True the first time an update_id is seen (recorded, committed); False after."""
        if update_id in self._recent:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._pending.setdefault(update_id, []).append(future)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                fresh = await self._record(sorted(batch))
            except Exception as exc:  # the database is down: every waiter hears it
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for update_id, futures in batch.items():
                self._remember(update_id)
                for n, future in enumerate(futures):
                    if not future.done():
                        future.set_result(update_id in fresh and n == 0)

    async def _record(self, ids: Sequence[int]) -> set[int]:
        now = utcnow()
        async with self._pool() as session:
            try:
                await updates.claim_many(session, ids, now)
                await session.commit()
                return set(ids)
            except IntegrityError:  # some were handled before: one by one
                await session.rollback()
            fresh = set()
            for update_id in ids:
                if await updates.claim(session, update_id, now):
                    await session.commit()
                    fresh.add(update_id)
                else:
                    log.info("update %s already handled; skipped", update_id)
            return fresh

    def _remember(self, update_id: int) -> None:
        self._recent[update_id] = None
        if len(self._recent) > self._remember_max:
            self._recent.popitem(last=False)
