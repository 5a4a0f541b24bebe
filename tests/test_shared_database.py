"""Several processes on one database: migrations applied once, each update handled once,
dialog state seen by all (Redis, or PostgreSQL without a cache), and one person's updates
handled one at a time across processes (Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.methods import SendMessage
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.config import Settings
from bot.factory import create_dispatcher
from storage.engine import create_engine, create_session_pool
from storage.fsm import SqlStorage
from storage.migrate import MIGRATION_LOCK_KEY, alembic_config, upgrade
from tests.mocked_bot import MockedBot
from tests.people import Person
from tests.pg import fresh_database

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


def pg_settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="42:TEST",
        database_url=url,
        admin_ids=frozenset(),
        default_locale="en",
        flood_limit=0,
    )


async def versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


# ------------------------------------------------------------------------ migrations


@pytest.mark.postgres
async def test_four_processes_upgrading_a_fresh_database_at_once(pg_url):
    engines = [create_engine(pg_url) for _ in range(4)]
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(upgrade(e) for e in engines), return_exceptions=True), timeout=120
        )
        assert results == [None] * 4
    finally:
        for engine in engines:
            await engine.dispose()
    assert await versions(pg_url) == [HEAD]


@pytest.mark.postgres
async def test_an_upgrade_waits_for_the_one_in_progress(pg_url):
    holder = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    engine = create_engine(pg_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        waiting = asyncio.ensure_future(upgrade(engine))
        await asyncio.sleep(1.0)
        assert not waiting.done()  # another process is migrating: this one waits
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await asyncio.wait_for(waiting, timeout=60)
    finally:
        await holder.close()
        await engine.dispose()
    assert await versions(pg_url) == [HEAD]


# ------------------------------------------------------------- each update once


@pytest.mark.postgres
async def test_two_webhook_processes_handle_one_update_once(pg_url):
    settings = pg_settings(pg_url)
    engines = [create_engine(pg_url) for _ in range(2)]
    try:
        await upgrade(engines[0])
        bots = [MockedBot(), MockedBot()]
        dps = [create_dispatcher(settings, create_session_pool(e), b)
               for e, b in zip(engines, bots, strict=True)]
        people = [Person(dp, b, 5150) for dp, b in zip(dps, bots, strict=True)]

        def replies(batches: list[list[Any]]) -> int:
            return sum(isinstance(r, SendMessage) for batch in batches for r in batch)

        # Telegram retried the webhook: the same update reaches both at once ...
        at_once = await asyncio.gather(*(p.send("/help", update_id=777_001) for p in people))
        assert replies(list(at_once)) == 1
        # ... or one after the other.
        one = await people[0].send("/help", update_id=777_002)
        other = await people[1].send("/help", update_id=777_002)
        assert replies([one, other]) == 1
    finally:
        for engine in engines:
            await engine.dispose()


# ------------------------------------------------------------- dialog state


@pytest.mark.postgres
async def test_sql_storage_on_postgresql_sees_the_other_processes_writes(pg_url):
    engines = [create_engine(pg_url) for _ in range(2)]
    try:
        await upgrade(engines[0])
        a, b = (SqlStorage(create_session_pool(e)) for e in engines)
        assert not a.caching and not b.caching
        key = StorageKey(bot_id=42, chat_id=7, user_id=7)
        assert await a.get_state(key) is None and await a.get_data(key) == {}  # read first
        await b.set_state(key, "Form:name")
        await b.set_data(key, {"name": "Rana"})
        assert await a.get_state(key) == "Form:name"
        assert await a.get_data(key) == {"name": "Rana"}
        await a.set_data(key, {"name": "Rana", "sector": "ngo"})
        await a.set_state(key, "Form:consent")
        assert await b.get_state(key) == "Form:consent"
        assert await b.get_data(key) == {"name": "Rana", "sector": "ngo"}
        await b.set_state(key, None)
        await b.set_data(key, {})
        assert await a.get_state(key) is None and await a.get_data(key) == {}
    finally:
        for engine in engines:
            await engine.dispose()


async def test_sql_storage_caches_on_sqlite_only(session_pool):
    assert SqlStorage(session_pool).caching  # one process: reads from memory
    assert not SqlStorage(session_pool, cache=False).caching


# ------------------------------------------------------------- one update at a time


class Recorder:
    """An update middleware inside aiogram's FSM one (so inside its isolation lock):
    notes when each update's handling began and ended, and makes it last a while."""

    def __init__(self, name: str, spans: list[tuple[str, int, float, float]]) -> None:
        self.name, self.spans = name, spans

    async def __call__(
        self, handler: Callable[[Any, dict[str, Any]], Awaitable[Any]], event: Any,
        data: dict[str, Any],
    ) -> Any:
        start = time.monotonic()
        await asyncio.sleep(0.3)
        try:
            return await handler(event, data)
        finally:
            self.spans.append((self.name, event.update_id, start, time.monotonic()))


def overlap(spans: list[tuple[str, int, float, float]]) -> bool:
    (_n1, _u1, s1, e1), (_n2, _u2, s2, e2) = spans
    return s1 < e2 and s2 < e1


async def test_one_persons_updates_are_handled_one_at_a_time_across_processes(
    redis_url, settings, session_pool
):
    settings = settings.model_copy(update={"redis_url": redis_url})
    spans: list[tuple[str, int, float, float]] = []
    bots = [MockedBot(), MockedBot()]
    dps = [create_dispatcher(settings, session_pool, b) for b in bots]
    try:
        for name, dp in zip("AB", dps, strict=True):
            assert isinstance(dp.fsm.storage, RedisStorage)
            assert isinstance(dp.fsm.events_isolation, RedisEventIsolation)
            dp.update.outer_middleware(Recorder(name, spans))

        same = [Person(dp, b, 4242) for dp, b in zip(dps, bots, strict=True)]
        first = await asyncio.gather(same[0].send("/help"), same[1].send("/help"))
        assert len(spans) == 2 and not overlap(spans)  # one after the other

        spans.clear()  # two people: handled at the same time (the check above can fail)
        two = [Person(dps[0], bots[0], 4343), Person(dps[1], bots[1], 4444)]
        second = await asyncio.gather(two[0].send("/help"), two[1].send("/help"))
        assert len(spans) == 2 and overlap(spans)
        replies = [r for out in (*first, *second) for r in out if isinstance(r, SendMessage)]
        assert len(replies) == 4  # each handled
    finally:
        for dp in dps:
            await dp.fsm.close()


def test_no_isolation_without_redis(dp):
    assert isinstance(dp.fsm.storage, SqlStorage)
    assert not isinstance(dp.fsm.events_isolation, RedisEventIsolation)
