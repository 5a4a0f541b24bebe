"""Action plans over time: overdue milestones remind the members responsible (a
controlled clock: at the local hour, not on the weekend, once), and the weekly digests'
plan parts (coordinators: actions under way; admins: actions by status, text and XLSX)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.digest_admin import admin_row
from bot.digest_render import Renderer
from bot.i18n import create_i18n
from bot.services import digests, plans
from bot.services.access import Actor
from storage.models import User, utcnow
from storage.models.plans import PlanAction, PlanMilestone, PlanResponsible
from storage.models.reports import Report
from tests.helpers import make_network, member_of
from tests.people import ADMIN_ID
from tests.test_digest import NOW, add_person, build_one

ADMIN = Actor(tg_id=ADMIN_ID, user=None, is_admin=True)


def at_local(tz: str, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


async def test_overdue_milestones_remind_the_responsible_once(session, person, dp, delivery, bot):
    saida = await make_network(session, "saida")  # Lebanon: Sunday is the weekend
    responsible, other, coordinator = person(2), person(3), person(4)
    await member_of(session, responsible, saida, name="Rana", lang="fr")
    await member_of(session, other, saida, name="Omar")
    await member_of(session, coordinator, saida, role="coordinator", name="Maya")
    rana = await session.scalar(select(User.id).where(User.tg_id == 2))
    month = utcnow().date().replace(day=1)
    action = await plans.create_action(session, ADMIN, {
        "network_id": saida.id, "title": "Youth sports league", "start": f"{month:%Y-%m}",
        "end": f"{month:%Y-%m}", "responsible": [rana],
    }, utcnow())
    await plans.set_status(session, ADMIN, action.id, "under_way", utcnow())
    monday = next_weekday(utcnow().date() + timedelta(days=20), 0)
    sunday = monday - timedelta(days=1)
    due = monday - timedelta(days=2)  # Saturday: overdue from Sunday on
    await plans.add_milestone(session, ADMIN, action.id, "Pitch booked", due, utcnow())
    await plans.add_milestone(session, ADMIN, action.id, "Not yet due", monday + timedelta(60),
                              utcnow())
    bot.take_requests()
    pool, i18n = dp["session_pool"], dp["i18n"]
    tz = "Asia/Beirut"

    async def run(day: date, hour: int) -> int:
        return await plans.remind_overdue(pool, delivery, i18n, at_local(tz, day, hour))

    assert await run(sunday, 12) == 0  # the weekend
    assert await run(monday, 8) == 0  # before the local hour
    assert await run(monday, 18) == 0  # after it
    assert await run(monday, 10) == 1
    await delivery.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert [r.chat_id for r in sent] == [responsible.user.id]  # only the responsible member
    assert "Youth sports league" in sent[0].text and "Pitch booked" in sent[0].text
    # Once: later the same day, the next days of the week, nothing.
    assert await run(monday, 11) == 0
    for days in range(1, 7):
        assert await run(monday + timedelta(days=days), 12) == 0
    await delivery.run_until_idle()
    assert [r for r in bot.take_requests() if isinstance(r, SendMessage)] == []
    # A week later, still not done: reminded again; once done, never.
    assert await run(monday + timedelta(days=7), 12) == 1
    milestone = await session.scalar(select(PlanMilestone).where(PlanMilestone.text ==
                                                                   "Pitch booked"))
    assert milestone is not None
    await plans.toggle_milestone(session, ADMIN, milestone.id, utcnow())
    assert await run(monday + timedelta(days=14), 12) == 0
    assert await run(monday + timedelta(days=21), 12) == 0


async def test_with_nobody_responsible_the_coordinators_are_reminded(
    session, person, dp, delivery, bot
):
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    member, coordinator = person(2), person(3)
    await member_of(session, member, irbid)
    await member_of(session, coordinator, irbid, role="coordinator")
    month = utcnow().date().replace(day=1)
    action = await plans.create_action(session, ADMIN, {
        "network_id": irbid.id, "title": "Parents evenings", "start": f"{month:%Y-%m}",
        "end": f"{month:%Y-%m}",
    }, utcnow())
    await plans.set_status(session, ADMIN, action.id, "under_way", utcnow())
    friday = next_weekday(utcnow().date() + timedelta(days=20), 4)
    await plans.add_milestone(session, ADMIN, action.id, "Invitations", friday - timedelta(5),
                              utcnow())
    bot.take_requests()
    pool, i18n = dp["session_pool"], dp["i18n"]
    for day in (friday, friday + timedelta(days=1)):  # Jordan's weekend
        assert await plans.remind_overdue(pool, delivery, i18n,
                                          at_local("Asia/Amman", day, 12)) == 0
    sunday = friday + timedelta(days=2)
    assert await plans.remind_overdue(pool, delivery, i18n,
                                      at_local("Asia/Amman", sunday, 12)) == 1
    await delivery.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert [r.chat_id for r in sent] == [coordinator.user.id]


async def _zarqa(session):  # type: ignore[no-untyped-def]
    """Zarqa (Amman; the digest's day is 16 March 2025): a league under way with four
    linked reports (120 participants) and one overdue milestone, a campaign under way with
    a milestone due this week, one action planned and one done."""
    zarqa = await make_network(session, "zarqa", name="Zarqa Network", country="JO",
                               timezone="Asia/Amman")
    coordinator = await add_person(session, zarqa, 500, "Maya", role="coordinator")
    member = await add_person(session, zarqa, 501, "Rana")
    march = date(2025, 3, 1)

    def action(title: str, status: str) -> PlanAction:
        return PlanAction(network_id=zarqa.id, title=title, status=status, start_month=march,
                          end_month=date(2025, 6, 1), created_at=NOW)

    league, campaign = action("Youth sports league", "under_way"), action("Campaign", "under_way")
    session.add_all([league, campaign, action("Later", "planned"), action("Past", "done")])
    await session.flush()
    session.add(PlanResponsible(action_id=league.id, user_id=member.id))
    for i, people in enumerate((20, 30, 40, 30)):
        session.add(Report(network_id=zarqa.id, author_id=member.id, author_sector="teacher",
                           activity_type="culture", activity_date=date(2025, 3, 1 + i),
                           participants=people, description="Match", action_id=league.id,
                           created_at=NOW - timedelta(days=10)))
    session.add_all([
        PlanMilestone(action_id=league.id, text="Pitch", due_date=date(2025, 3, 10),
                      created_at=NOW),
        PlanMilestone(action_id=league.id, text="Kits", due_date=date(2025, 3, 1), done=True,
                      created_at=NOW),
        PlanMilestone(action_id=campaign.id, text="Posters", due_date=date(2025, 3, 19),
                      created_at=NOW),
        PlanMilestone(action_id=campaign.id, text="Later", due_date=date(2025, 4, 19),
                      created_at=NOW),
    ])
    await session.commit()
    return zarqa, coordinator, member


async def test_the_coordinators_digest_has_the_plan_part(session):
    zarqa, coordinator, member = await _zarqa(session)
    d = await build_one(session, zarqa)
    renderer = Renderer(create_i18n("en"))
    rows = {m.user_id: m for m in d.figures.members}
    text = renderer.text(d, "en", rows[coordinator.id], True)
    assert "<b>Action plan</b>" in text
    assert "▶️ Youth sports league: 4 reports, 120 participants, 1 milestone overdue\n" in text
    assert "▶️ Campaign: 0 reports, 0 participants, 1 milestone due this week" in text
    assert "Later" not in text and "Past" not in text  # only actions under way
    assert "Action plan" not in renderer.text(d, "en", rows[member.id], False)
    arabic = renderer.text(d, "ar", rows[coordinator.id], True)
    assert "Youth sports league" in arabic and "120" in arabic
    assert "Youth sports league: 4 تقارير، 120 مشاركًا، مرحلة واحدة متأخرة" in arabic


async def test_the_admins_digest_counts_actions_by_status(session):
    zarqa, _c, _m = await _zarqa(session)
    d = await build_one(session, zarqa)
    row = admin_row(d)
    assert dict(row.actions) == {"under_way": 2, "planned": 1, "done": 1}
    renderer = Renderer(create_i18n("en"))
    window = digests.window_for(digests.zone(zarqa), NOW)
    text = renderer.admin_text([row], window, "en")
    assert "🎯 actions: 2 under way, 1 planned, 1 done, 0 dropped" in text
    book = openpyxl.load_workbook(io.BytesIO(renderer.admin_xlsx([row], window, "en")))
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-4:] == ("Actions under way", "Actions planned", "Actions done",
                              "Actions dropped")
    assert values[1][-4:] == (2, 1, 0 + 1, 0)
