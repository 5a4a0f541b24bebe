"""The fake Bot API with two people (Alice and Bob) and a real aiogram Bot pointed at it:
the fixtures and helpers shared by tests/test_fake_api*.py.

The test modules bind the fixtures (``api, bot = fake_bot.api, fake_bot.bot``) so that
pytest finds them there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.telegram import FakeBotAPI

ALICE = 42
BOB = 43


def _keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d.upper(), callback_data=d) for d in data]]
    )


async def _close_bot(bot: Bot) -> None:
    # AiohttpSession.close() sleeps 250 ms for TLS shutdown; plain HTTP does not need it.
    session = bot.session
    inner = getattr(session, "_session", None)
    if inner is not None and not inner.closed:
        await inner.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        fake.add_user(ALICE, "Alice", username="alice")
        fake.add_user(BOB, "Bob", language_code="fr")
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session)
    try:
        yield bot
    finally:
        await _close_bot(bot)


@pytest.fixture
async def http(api: FakeBotAPI) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=api.base_url) as session:
        yield session
