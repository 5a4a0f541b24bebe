from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message, Update, User
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_dispatcher
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from tests.mocked_bot import MockedBot
from tests.pg import fresh_database

ADMIN_ID = 9000


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


_update_ids = itertools.count(1)


class Person:
    """A Telegram user talking to the bot through the real dispatcher."""

    def __init__(
        self, dp: Dispatcher, bot: MockedBot, user_id: int, first_name: str = "Test",
        language_code: str | None = "en",
    ) -> None:
        self.dp, self.bot = dp, bot
        self.user = User(
            id=user_id, is_bot=False, first_name=first_name, language_code=language_code
        )
        self.chat = Chat(id=user_id, type="private")
        self._message_ids = itertools.count(1)
        self.last_bot_message: Message | None = None

    async def feed(self, update: Update) -> list[TelegramMethod[Any]]:
        await self.dp.feed_update(self.bot, update)
        return self.bot.take_requests()

    def message(self, text: str | None = None, **fields: Any) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            text=text,
            **fields,
        )

    async def send(
        self, text: str, update_id: int | None = None, **fields: Any
    ) -> list[TelegramMethod[Any]]:
        uid = update_id if update_id is not None else next(_update_ids)
        return await self.feed(Update(update_id=uid, message=self.message(text, **fields)))

    async def send_media(self, **fields: Any) -> list[TelegramMethod[Any]]:
        """A message without text: photo=[PhotoSize...], document=Document(...), caption=..."""
        return await self.feed(Update(update_id=next(_update_ids), message=self.message(**fields)))

    async def press(
        self, data: str, message_id: int = 1, message_text: str = "…"
    ) -> list[TelegramMethod[Any]]:
        message = Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=User(id=42, is_bot=True, first_name="Prevnet"),
            text=message_text,
        )
        query = CallbackQuery(
            id=str(next(_update_ids)),
            from_user=self.user,
            chat_instance="ci",
            message=message,
            data=data,
        )
        return await self.feed(Update(update_id=next(_update_ids), callback_query=query))


def texts(requests: list[TelegramMethod[Any]]) -> list[str]:
    """What the person saw: message texts, captions, edits and button-press alerts."""
    out: list[str] = []
    for r in requests:
        for attr in ("text", "caption"):
            value = getattr(r, attr, None)
            if isinstance(value, str):
                out.append(value)
    return out


def buttons(requests: list[TelegramMethod[Any]]) -> list[tuple[str, str]]:
    """(label, callback_data) of every inline button in the requests."""
    out: list[tuple[str, str]] = []
    for r in requests:
        markup = getattr(r, "reply_markup", None)
        for row in getattr(markup, "inline_keyboard", None) or []:
            for b in row:
                out.append((b.text, b.callback_data or b.url or ""))
    return out


@pytest.fixture
def person(dp: Dispatcher, bot: MockedBot):  # type: ignore[no-untyped-def]
    def make(user_id: int, **kwargs: Any) -> Person:
        return Person(dp, bot, user_id, **kwargs)

    return make
