"""Nudges to members who have not reported, with a controlled clock; weekends and weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.services import reports as service
from bot.services.access import Actor
from storage.models import Network, User, utcnow
from storage.models.reports import Report, ReportNudge
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID, buttons, texts


def at_local(tz: str, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


async def turn_on(session, network: Network, days: int = 14) -> None:  # type: ignore[no-untyped-def]
    admin = Actor(tg_id=ADMIN_ID, user=None, is_admin=True)
    await service.change_settings(session, admin, network.id, "nudge", 1, utcnow())
    await service.change_settings(session, admin, network.id, "days", days, utcnow())


async def user_id(session, tg_id: int) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(User.id).where(User.tg_id == tg_id)))


async def test_nudges_with_a_controlled_clock(session, person, dp, delivery, bot):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    zarqa = await make_network(session, "zarqa", country="JO", timezone="Asia/Amman")
    quiet, busy, coordinator = person(2), person(3), person(4)
    await member_of(session, quiet, saida, name="Quiet")
    await member_of(session, busy, saida, name="Busy", lang="ar")
    await member_of(session, coordinator, saida, role="coordinator")
    irbid_member, zarqa_member = person(5), person(6)
    await member_of(session, irbid_member, irbid, lang="fr")
    await member_of(session, zarqa_member, zarqa)
    await turn_on(session, saida)
    await turn_on(session, irbid)
    bot.take_requests()
    pool, i18n = dp["session_pool"], dp["i18n"]

    tuesday = next_weekday(utcnow().date() + timedelta(days=16), 1)
    now = at_local("Asia/Beirut", tuesday, 12)
    session.add(
        Report(
            network_id=saida.id,
            author_id=await user_id(session, busy.user.id),
            author_sector="teacher",
            activity_type="workshop",
            activity_date=tuesday - timedelta(days=2),
            participants=3,
            description="recent",
            created_at=now - timedelta(days=2),
        )
    )
    await session.commit()

    # outside the hours, nothing
    assert await service.send_nudges(pool, delivery, i18n, at_local("Asia/Beirut", tuesday, 8)) == 0
    assert (
        await service.send_nudges(pool, delivery, i18n, at_local("Asia/Beirut", tuesday, 18)) == 0
    )
    assert await service.send_nudges(pool, delivery, i18n, now) == 2
    await delivery.run_until_idle()
    sent = {r.chat_id: r for r in bot.take_requests() if isinstance(r, SendMessage)}
    assert set(sent) == {quiet.user.id, irbid_member.user.id}  # not busy, coordinator, zarqa
    assert "Saida Network" in sent[quiet.user.id].text and "14 days" in sent[quiet.user.id].text
    assert [b[1] for b in buttons([sent[quiet.user.id]])] == [f"rnew:{saida.id}"]
    assert [b[1] for b in buttons([sent[irbid_member.user.id]])] == [f"rnew:{irbid.id}"]
    assert "Irbid Network" in sent[irbid_member.user.id].text

    # the same hour again (a second process), and the next hours: nobody twice
    assert await service.send_nudges(pool, delivery, i18n, now) == 0
    assert await service.send_nudges(pool, delivery, i18n, now + timedelta(hours=1)) == 0
    assert await service.send_nudges(pool, delivery, i18n, now + timedelta(days=7)) == 0

    # fifteen days later both Saida members are due (the report is 17 days old)
    later = now + timedelta(days=15)
    assert await service.send_nudges(pool, delivery, i18n, later) == 3
    await delivery.run_until_idle()
    sent = {r.chat_id: r for r in bot.take_requests() if isinstance(r, SendMessage)}
    assert set(sent) == {quiet.user.id, busy.user.id, irbid_member.user.id}

    # the button starts the report in that network
    out = await quiet.tap("📝 Report an activity")
    assert "Saida Network" in texts(out)[0] and "rt:workshop" in [b[1] for b in buttons(out)]

    # turned off: nothing
    admin = Actor(tg_id=ADMIN_ID, user=None, is_admin=True)
    await service.change_settings(session, admin, saida.id, "nudge", 0, utcnow())
    await service.change_settings(session, admin, irbid.id, "nudge", 0, utcnow())
    assert await service.send_nudges(pool, delivery, i18n, later + timedelta(days=30)) == 0


async def test_no_nudges_on_the_weekend(session, person, dp, delivery):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    await member_of(session, person(2), saida)
    await member_of(session, person(3), irbid)
    await turn_on(session, saida)
    await turn_on(session, irbid)
    pool, i18n = dp["session_pool"], dp["i18n"]
    start = utcnow().date() + timedelta(days=16)
    friday, saturday, sunday = (next_weekday(start, d) for d in (4, 5, 6))
    assert (
        await service.send_nudges(pool, delivery, i18n, at_local("Asia/Beirut", saturday, 12)) == 0
    )
    # Sunday: Lebanon rests, Jordan works
    assert await service.send_nudges(pool, delivery, i18n, at_local("Asia/Beirut", sunday, 12)) == 1
    assert await nudged_networks(session) == [irbid.id]
    # Friday: Jordan rests, Lebanon works
    friday = friday if friday > sunday else friday + timedelta(days=7)
    assert await service.send_nudges(pool, delivery, i18n, at_local("Asia/Amman", friday, 12)) == 1
    assert await nudged_networks(session) == sorted([saida.id, irbid.id])


async def nudged_networks(session) -> list[int]:  # type: ignore[no-untyped-def]
    rows = await session.scalars(
        select(ReportNudge.network_id).execution_options(populate_existing=True)
    )
    return sorted(rows)


def test_weekends_and_weeks_by_country():
    lebanon = Network(id=1, country="LB", timezone="Asia/Beirut", slug="s", name="S")
    jordan = Network(id=2, country="JO", timezone="Asia/Amman", slug="i", name="I")
    assert service.weekend_days(lebanon, None) == (5, 6)
    assert service.weekend_days(jordan, None) == (4, 5)
    assert service.weekend_days(lebanon, "6") == (6,)  # a network's own choice
    assert service.weekend_days(lebanon, "x,9") == (5, 6)  # nonsense: the country's
    assert service.week_start(lebanon, None) == 0  # Monday
    assert service.week_start(jordan, None) == 6  # Sunday
    sunday = next_weekday(date(2026, 3, 1), 6)
    assert not service.in_nudge_window(lebanon, None, at_local("Asia/Beirut", sunday, 12))
    assert service.in_nudge_window(
        lebanon, "6,0", at_local("Asia/Beirut", sunday + timedelta(days=6), 12)
    )
    assert service.in_nudge_window(jordan, None, at_local("Asia/Amman", sunday, 12))
    assert service.in_nudge_window(jordan, None, at_local("Asia/Amman", sunday, 10))
    assert not service.in_nudge_window(jordan, None, at_local("Asia/Amman", sunday, 18))
    # this week and last week in Amman (weeks from Sunday) on Tuesday 2026-03-03
    now = at_local("Asia/Amman", date(2026, 3, 3), 12)
    assert service.period_range("week", jordan, None, now) == (date(2026, 3, 1), date(2026, 3, 3))
    assert service.period_range("lastweek", jordan, None, now) == (
        date(2026, 2, 22),
        date(2026, 2, 28),
    )
    assert service.period_range("week", lebanon, None, now) == (date(2026, 3, 2), date(2026, 3, 3))
    assert service.period_range("lastmonth", lebanon, None, now) == (
        date(2026, 2, 1),
        date(2026, 2, 28),
    )
    assert service.period_range("30", lebanon, None, now)[0] == date(2026, 2, 2)
    assert service.period_range("all", lebanon, None, now) == (None, None)
