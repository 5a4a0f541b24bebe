"""Fixtures and helpers of the events handler tests (test_events_handlers*.py): two networks
with people, a fast delivery engine in the dispatcher, typed local times, the /newevent
dialog up to its preview or announcement.

The test modules bind the fixtures (``outbox, saida, irbid = events_dialog.outbox, ...``)
so that pytest finds them there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryEngine
from bot.services import events
from storage.models.events import Event
from tests.events_helpers import add_people
from tests.helpers import make_network
from tests.people import buttons

BEIRUT = ZoneInfo("Asia/Beirut")
OTHER_COORDINATOR, STRANGER = 200, 300
REFUSED = "Sorry, you are not allowed to do that."
STALE = "This button is no longer valid."


@pytest.fixture
def outbox(dp, bot, session_pool):  # type: ignore[no-untyped-def]
    """A fast delivery engine in place of the dispatcher's (no per-chat spacing)."""
    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    dp["delivery"] = engine
    return engine


@pytest.fixture
async def saida(session, outbox):  # type: ignore[no-untyped-def]
    network = await make_network(session, "saida")
    await add_people(session, network)
    return network


@pytest.fixture
async def irbid(session):  # type: ignore[no-untyped-def]
    network = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    await add_people(session, network, [(OTHER_COORDINATOR, "Zaid", "en", "coordinator")])
    return network


def local(days: int, hour: int, minute: int = 0) -> str:
    """A typed `YYYY-MM-DD HH:MM` in Beirut, ``days`` from today."""
    day = (datetime.now(UTC).astimezone(BEIRUT) + timedelta(days=days)).date()
    return f"{day.isoformat()} {hour:02d}:{minute:02d}"


def next_skipped_time() -> str:
    """A wall time that does not exist in Beirut (the coming spring-forward night)."""
    today = datetime.now(UTC).astimezone(BEIRUT).date()
    for n in range(1, 367):
        day = today + timedelta(days=n)
        try:
            events.local_to_utc(datetime(day.year, day.month, day.day, 0, 30), BEIRUT)
        except events.EventError:
            return f"{day.isoformat()} 00:30"
    raise AssertionError("no daylight-saving change within a year")


def data_of(out: list[Any]) -> list[str]:
    return [b[1] for b in buttons(out)]


async def stored_event(session) -> Event:  # type: ignore[no-untyped-def]
    event = await session.scalar(
        select(Event).order_by(Event.id.desc()).execution_options(populate_existing=True)
    )
    assert event is not None
    return event


async def dialog_until_preview(coordinator, *, start: str, title: str = "First aid") -> Any:  # type: ignore[no-untyped-def]
    await coordinator.send("/newevent")
    await coordinator.tap("Training")
    await coordinator.send(title)
    await coordinator.send(start)
    await coordinator.send("2h")
    await coordinator.send("Town hall <A&B>")
    return await coordinator.tap("No description")


async def create_event(session, coordinator, start: str | None = None) -> Event:  # type: ignore[no-untyped-def]
    await dialog_until_preview(coordinator, start=start or local(3, 17))
    await coordinator.tap("📣 Announce")
    return await stored_event(session)
