"""People, events and reminder runs shared by the events tests (test_events_*.py,
test_walkthrough.py): a network's five members, an event published by its coordinator,
answers, one run of the reminder sender, what reminders went out.

The reminder tests bind the fixtures (``i18n, outbox = events_helpers.i18n, ...``) so that
pytest finds them there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import SendMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.services import events
from bot.services.access import Actor
from bot.services.events import Draft
from storage.models import Network
from storage.models.events import Event, EventReminder
from storage.repositories import events as repo
from storage.repositories import memberships, users
from tests.mocked_bot import MockedBot

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
COORDINATOR, GOING, MAYBE, DECLINED, SILENT = 100, 101, 102, 103, 104
MEMBERS = (
    (COORDINATOR, "Hana", "en", "coordinator"),
    (GOING, "Rana", "en", "member"),
    (MAYBE, "Omar", "fr", "member"),
    (DECLINED, "Sami", "en", "member"),
    (SILENT, "Lina", "ar", "member"),
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def i18n():  # type: ignore[no-untyped-def]
    return create_i18n("en")


@pytest.fixture
async def outbox(bot, session_pool):  # type: ignore[no-untyped-def]
    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    yield engine
    await engine.stop()


async def add_people(
    session: AsyncSession, network: Network, specs: Any = MEMBERS, now: datetime = NOW
) -> None:
    for tg_id, name, language, role in specs:
        user = await users.get_or_create(session, tg_id)
        user.display_name, user.language = name, language
        await memberships.add(
            session, user=user, network_id=network.id, role=role, status="active",
            sector="teacher", invite_id=None, now=now,
        )
    await session.commit()


async def actor(session: AsyncSession, tg_id: int, admins: frozenset[int] = frozenset()) -> Actor:
    return Actor.build(tg_id, await users.get_by_tg_id(session, tg_id), admins)


async def new_event(
    session: AsyncSession,
    bot: MockedBot,
    outbox: DeliveryEngine,
    i18n: Any,
    network: Network,
    typed_start: str,
    *,
    now: datetime = NOW,
    hours: int = 2,
) -> Event:
    starts_at = events.parse_start(typed_start, events.zone(network), now)
    draft = Draft(
        network_id=network.id, kind="training", title="First aid", place="Town hall",
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
    )
    coordinator = await actor(session, COORDINATOR)
    with i18n.context(), i18n.use_locale("en"):
        published = await events.create_event(
            session, bot, outbox, i18n, coordinator, draft, chat_id=COORDINATOR, now=now
        )
    return published.event


async def answer(session: AsyncSession, event: Event, tg_id: int, value: str) -> None:
    await events.set_rsvp(session, await actor(session, tg_id), event.id, value, NOW)


async def run(
    pool: async_sessionmaker[AsyncSession],
    outbox: DeliveryEngine,
    i18n: Any,
    now: datetime,
    worker: str = "w1",
) -> events.ReminderRun:
    result = await events.send_due_reminders(pool, outbox, i18n, now=now, worker_id=worker)
    await outbox.run_until_idle()
    return result


def plain(text: str) -> str:
    """Babel's no-break spaces as ordinary ones."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def reminders(bot: MockedBot) -> list[Any]:
    return [
        r for r in bot.take_requests()
        if isinstance(r, SendMessage) and r.text.startswith("⏰")  # in every language
    ]


async def rows(session: AsyncSession, event: Event) -> list[EventReminder]:
    return list(await repo.reminder_rows(session, event.id))
