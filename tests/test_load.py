"""Many people at once, through the real dispatcher: a small pool, a flood, order per chat,
the bound on updates in flight, and no connection held across a request to Telegram."""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Message, Update
from aiogram.types import User as TgUser
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.config import Settings
from bot.dbguard import ConnectionHeldWarning
from bot.factory import create_dispatcher
from bot.flow import FloodGuard, UpdateFlowMiddleware
from bot.i18n import create_i18n
from storage.engine import connections_held, create_engine, create_session_pool, db_scope
from storage.migrate import upgrade
from storage.models import Membership
from tests.helpers import join, make_invite, make_network
from tests.mocked_bot import MockedBot, MockedSession
from tests.people import ADMIN_ID, Person, texts

APOLOGY = "Sorry, something went wrong on my side. Please try again."


class SlowSession(MockedSession):
    """Each request takes ``latency`` seconds, as from a phone network far away."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency
        self.in_flight = 0
        self.peak = 0

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            return await super().make_request(bot, method, timeout)
        finally:
            self.in_flight -= 1


class SlowBot(MockedBot):
    def __init__(self, latency: float) -> None:
        super().__init__()
        self.session = SlowSession(latency)


def load_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": "42:TEST",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'load.db'}",
        "admin_ids": frozenset({ADMIN_ID}),
        "flood_limit": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def small_pool(tmp_path: Path) -> AsyncIterator[tuple[Settings, AsyncEngine]]:
    """A database pool of two connections that gives up after three seconds."""
    settings = load_settings(tmp_path, db_pool_size=2, db_max_overflow=0, db_pool_timeout=3)
    engine = create_engine(settings.database_url, **settings.db_pool_options())
    await upgrade(engine)
    yield settings, engine
    await engine.dispose()


async def join_at_once(p: Person, code: str, name: str) -> None:
    """The registration dialog, as `tests.helpers.join`, without reading the shared request
    log (others are talking to the bot at the same time)."""
    await p.dp.feed_update(p.bot, _update(p, p.message(f"/start {code}")))
    for step in ("lang:en", None, "sec:teacher", "consent:1"):
        if step is None:
            await p.dp.feed_update(p.bot, _update(p, p.message(name)))
        else:
            await p.dp.feed_update(p.bot, _press(p, step))


_ids = itertools.count(10_000_000)


def _update(p: Person, message: Any) -> Update:
    return Update(update_id=next(_ids), message=message)


def _press(p: Person, data: str) -> Update:
    message = Message(
        message_id=1, date=datetime.now(UTC), chat=p.chat,
        from_user=TgUser(id=42, is_bot=True, first_name="Prevnet"), text="…",
    )
    query = CallbackQuery(
        id=str(next(_ids)), from_user=p.user, chat_instance="ci", message=message, data=data
    )
    return Update(update_id=next(_ids), callback_query=query)


def sent_texts(bot: MockedBot, chat_id: int) -> list[str]:
    """The texts sent to the chat, and those its messages were edited to."""
    return [
        r.text
        for r in bot.session.requests
        if isinstance(r, SendMessage | EditMessageText) and r.chat_id == chat_id
    ]


async def test_fifty_people_join_at_once_through_a_pool_of_two(small_pool) -> None:  # type: ignore[no-untyped-def]
    settings, engine = small_pool
    assert engine.pool.size() == 2  # type: ignore[attr-defined]
    pool = create_session_pool(engine)
    bot = SlowBot(latency=0.2)  # each request holds a connection for 0.2 s if it leaks one
    dp = create_dispatcher(settings, pool, bot)
    async with pool() as session:
        network = await make_network(session)
        invite = await make_invite(session, network.id, max_uses=100)
        await session.commit()
    people = [Person(dp, bot, 5000 + i) for i in range(50)]

    # 50 updates in flight at once, each holding its reply for 0.2 s: a connection held
    # across the reply would keep 48 of them waiting 24 × 0.2 s, past the pool's 3 s
    # timeout (and the guard below turns it into an error at once).
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConnectionHeldWarning)
        await asyncio.gather(
            *(join_at_once(p, invite.code, f"Member {i}") for i, p in enumerate(people))
        )

    assert bot.session.peak >= 25  # they really were in flight together
    async with pool() as session:
        joined = await session.scalar(select(func.count()).select_from(Membership))
    assert joined == 50
    for p in people:
        seen = sent_texts(bot, p.user.id)
        assert APOLOGY not in seen
        assert any("Welcome to <b>Saida Network</b>" in t for t in seen), seen


async def test_a_connection_held_across_a_request_is_reported(small_pool) -> None:  # type: ignore[no-untyped-def]
    """The guard that the rule above relies on: a connection kept open in a scope while a
    request leaves is seen."""
    settings, engine = small_pool
    pool = create_session_pool(engine)
    bot = MockedBot()
    create_dispatcher(settings, pool, bot)  # installs the guard on the bot's session
    with db_scope():
        async with pool() as session:
            await session.execute(text("SELECT 1"))
            assert connections_held() == 1
            with pytest.warns(ConnectionHeldWarning, match="sendMessage"):
                await bot.send_message(1, "hello")
        assert connections_held() == 0
        await bot.send_message(1, "no warning now")


async def test_flood_control_drops_the_excess_with_one_notice(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, flood_limit=5, flood_window=10)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    try:
        pool = create_session_pool(engine)
        bot = MockedBot()
        dp = create_dispatcher(settings, pool, bot)
        flooder, calm = Person(dp, bot, 601, language_code="ar"), Person(dp, bot, 602)
        flood_out: list[Any] = []
        for _ in range(9):
            flood_out += await flooder.feed(_update(flooder, flooder.message("/help")))
        calm_out = await calm.feed(_update(calm, calm.message("/help")))
        presses = [await flooder.feed(_press(flooder, "nosuch:1")) for _ in range(3)]
    finally:
        await engine.dispose()
    seen = [r.text for r in flood_out if isinstance(r, SendMessage)]
    notices = [t for t in seen if "/start" not in t]
    assert len(notices) == 1, seen
    assert "faster than I can read" not in notices[0]  # in her language (Arabic)
    assert len(seen) == 5 + 1  # five answers, one notice, the rest dropped
    assert len([r for r in calm_out if isinstance(r, SendMessage)]) == 1  # nobody else waits
    # every press is still answered, with a short toast in her language
    answers = [r for out in presses for r in out if isinstance(r, AnswerCallbackQuery)]
    assert [a.text for a in answers] == ["ضغطات كثيرة في وقت واحد: يُرجى الانتظار بضع ثوانٍ."] * 3
    assert notices == [
        "ترسل الرسائل أسرع مما أستطيع قراءتها. يُرجى الانتظار بضع ثوانٍ، ثم أرسل رسالتك من جديد."
    ]


def test_flood_guard_window_slides() -> None:
    now = [0.0]
    guard = FloodGuard(limit=3, window=10.0, clock=lambda: now[0])
    assert [guard.check(1) for _ in range(3)] == [(True, False)] * 3
    assert guard.check(1) == (False, True)  # the first excess: tell them
    assert guard.check(1) == (False, False)  # then quietly
    assert guard.check(2) == (True, False)  # someone else is not affected
    now[0] = 10.5  # the window has passed: welcome back, and a new flood is told again
    assert [guard.check(1) for _ in range(3)] == [(True, False)] * 3
    assert guard.check(1) == (False, True)
    assert guard.dropped == 3


async def test_updates_of_one_chat_are_handled_in_order(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    try:
        pool = create_session_pool(engine)
        bot = SlowBot(latency=0.02)
        dp = create_dispatcher(settings, pool, bot)
        async with pool() as session:
            network = await make_network(session)
            invite = await make_invite(session, network.id)
            await session.commit()
        rana = Person(dp, bot, 701)
        await join(rana, invite.code)
        bot.session.requests.clear()
        # /mydata (a file, slow to build) then /help then /language, all at once:
        # answered in the order they were sent.
        await asyncio.gather(
            *(dp.feed_update(bot, _update(rana, rana.message(c)))
              for c in ("/mydata", "/help", "/language"))
        )
    finally:
        await engine.dispose()
    answers = [
        type(r).__name__ for r in bot.session.requests if getattr(r, "chat_id", None) == 701
    ]
    assert answers == ["SendDocument", "SendMessage", "SendMessage"], answers
    help_text, language_menu = sent_texts(bot, 701)
    assert "Here is what you can do" in help_text
    assert "lang:en" in str(bot.session.requests[-1].reply_markup)  # type: ignore[attr-defined]
    assert language_menu == "Choose your language:"


async def test_a_bounded_number_of_updates_in_flight(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, max_updates_in_flight=4)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    try:
        pool = create_session_pool(engine)
        bot = SlowBot(latency=0.05)
        dp = create_dispatcher(settings, pool, bot)
        people = [Person(dp, bot, 800 + i) for i in range(30)]
        await asyncio.gather(
            *(dp.feed_update(bot, _update(p, p.message("/help"))) for p in people)
        )
    finally:
        await engine.dispose()
    assert bot.session.peak <= 4
    for p in people:  # every one of them was answered
        assert len(sent_texts(bot, p.user.id)) == 1


async def test_replies_do_not_wait_for_the_broadcast_rate(
    dp: Dispatcher, bot: MockedBot, session: AsyncSession, person: Any
) -> None:
    """Thirty members tap in the same second with BROADCAST_RATE=25 (the default): no
    reply waits for a send slot."""
    network = await make_network(session)
    invite = await make_invite(session, network.id, max_uses=40)
    await session.commit()
    people = [person(900 + i) for i in range(30)]
    for p in people:
        await join(p, invite.code)
    limiter = dp["delivery"].limiter
    bot.take_requests()
    dp["delivery"].install()
    try:
        await asyncio.gather(
            *(dp.feed_update(bot, _update(p, p.message("/help"))) for p in people)
        )
    finally:
        dp["delivery"].uninstall()
    assert limiter.granted == 30
    assert limiter.queued == 0  # not one of them had to wait for a slot
    helps = [t for t in texts(bot.take_requests()) if "Here is what you can do" in t]
    assert len(helps) == 30


async def test_pool_settings_reach_the_engine(tmp_path: Path) -> None:
    default = load_settings(tmp_path)
    engine = create_engine(default.database_url, **default.db_pool_options())
    try:
        assert engine.pool.size() == 5  # type: ignore[attr-defined]
        assert engine.pool.timeout() == 30  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    custom = load_settings(tmp_path, db_pool_size=3, db_pool_timeout=4.5)
    engine = create_engine(custom.database_url, **custom.db_pool_options())
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool.timeout() == 4.5  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_stop_waits_for_the_updates_being_handled(tmp_path: Path) -> None:
    """SIGTERM stops polling, then the shutdown hook drains: the reply of an update taken
    just before still goes out before the Telegram session is closed."""
    settings = load_settings(tmp_path)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    try:
        bot = SlowBot(latency=0.5)
        dp = create_dispatcher(settings, create_session_pool(engine), bot)
        person = Person(dp, bot, 901)
        update = _update(person, person.message("/help"))
        handling = asyncio.create_task(dp.feed_update(bot, update))
        await asyncio.sleep(0.1)  # the reply is on its way
        assert not handling.done()
        await dp.emit_shutdown(bot=bot)
        assert handling.done()  # drained before the hook returned
        assert len(sent_texts(bot, 901)) == 1
    finally:
        await engine.dispose()


async def test_the_drain_gives_up_after_its_timeout(tmp_path: Path) -> None:
    flow = UpdateFlowMiddleware(
        create_i18n("en"), max_in_flight=2, flood_limit=0, flood_window=1
    )
    release = asyncio.Event()

    async def stuck(event: Any, data: dict[str, Any]) -> None:
        await release.wait()

    person = Person(None, None, 902)  # type: ignore[arg-type]
    task = asyncio.create_task(flow(stuck, _update(person, person.message("hi")), {}))
    await asyncio.sleep(0)
    assert await flow.drain(0.05) is False
    release.set()
    await task
    assert await flow.drain(0.05) is True
