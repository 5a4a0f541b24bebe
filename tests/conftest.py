"""Fixtures only: settings, databases, the dispatcher with a mocked Bot, and people.
The helpers they use live in tests/people.py and tests/helpers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from tests.mocked_bot import MockedBot
from tests.people import ADMIN_ID, Person  # bench/latency.py still imports Person from here
from tests.pg import fresh_database
from tests.redis_server import fresh_redis


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="42:TEST",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        admin_ids=frozenset({ADMIN_ID}),
        default_locale="en",
        flood_limit=0,  # scripted people act faster than anyone; tests/test_load.py tests it
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_pool(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_pool(engine)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def pool(request, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:  # type: ignore[no-untyped-def]
    """A migrated database on each backend: SQLite always, PostgreSQL where reachable
    (tests/pg.py starts it, or skips with the reason)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}")
        await upgrade(engine)
        yield create_session_pool(engine)
        await engine.dispose()
        return
    async with fresh_database() as url:
        engine = create_engine(url)
        await upgrade(engine)
        yield create_session_pool(engine)
        await engine.dispose()


@pytest.fixture
async def session(session_pool: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_pool() as session:
        yield session


@pytest.fixture
def bot() -> MockedBot:
    return MockedBot()


@pytest.fixture
def dp(
    settings: Settings, session_pool: async_sessionmaker[AsyncSession], bot: MockedBot
) -> Dispatcher:
    return create_dispatcher(settings, session_pool, bot)


@pytest.fixture
def delivery(dp: Dispatcher):  # type: ignore[no-untyped-def]
    """The dispatcher's delivery engine; `await delivery.run_until_idle()` flushes sends."""
    return dp["delivery"]


@pytest.fixture
def person(dp: Dispatcher, bot: MockedBot):  # type: ignore[no-untyped-def]
    def make(user_id: int, **kwargs: Any) -> Person:
        return Person(dp, bot, user_id, **kwargs)

    return make


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """An empty Redis database of this test's own (tests/redis_server.py starts the server,
    or skips with the reason)."""
    async with fresh_redis() as url:
        yield url
