"""Reports serve the plan: the report dialog's optional step "Which action is this part
of?" (only with actions under way; the common path stays at six taps), and the action in
the report views, /myreports, /reports and the CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import create_i18n
from bot.services import plans
from bot.services import reports as service
from bot.services.access import Actor
from storage.models import utcnow
from storage.models.plans import PlanAction
from storage.models.reports import Report
from storage.repositories import users
from tests.people import ADMIN_ID, texts
from tests.reports_helpers import data, file_report, setup

ADMIN = Actor(tg_id=ADMIN_ID, user=None, is_admin=True)


async def add_action(session, network, title: str, status: str = "under_way") -> PlanAction:  # type: ignore[no-untyped-def]
    month = date.today().replace(day=1)
    action = await plans.create_action(
        session, ADMIN, {"network_id": network.id, "title": title, "start": f"{month:%Y-%m}",
                         "end": f"{month:%Y-%m}"}, utcnow())
    if status != "planned":
        await plans.set_status(session, ADMIN, action.id, status, utcnow())
    return action


async def test_no_step_without_actions_under_way(session, person):
    network, member, _coordinator = await setup(session, person)
    await add_action(session, network, "Only planned", status="planned")
    await add_action(session, network, "Finished", status="done")
    await file_report(member)  # six taps, asserted step by step: no action question
    report = await session.scalar(select(Report))
    assert report is not None and report.action_id is None


async def _file_with_action(member, label: str) -> list:  # type: ignore[no-untyped-def]
    await member.send("/report")
    await member.tap("Awareness session")
    await member.tap("Today", contains=True)
    await member.tap("20")
    out = await member.tap("Young people (18–29)")
    assert texts(out) == ["Which action of the network's plan is this part of?"]
    assert data(out)[-1] == "ract:0"  # "None of them" is always offered
    out = await member.tap(label)
    assert texts(out) == ["Describe the activity in a few words (up to 1,000 characters)."]
    await member.send("Match day with 20 youths")
    out = await member.tap("Skip")
    return out


async def test_the_step_with_actions_under_way_one_tap_more(session, person):
    network, member, coordinator = await setup(session, person)
    league = await add_action(session, network, "Youth sports league")
    await add_action(session, network, "Parents evenings")
    out = await _file_with_action(member, "Youth sports league")
    preview = texts(out)[-1]
    assert "🎯 Action: Youth sports league" in preview
    assert "rf:edit_action" in data(out)
    out = await member.tap("✅ Submit")  # seven taps in all: the six and the action
    assert "Thank you!" in texts(out)[-1]
    report = await session.scalar(select(Report))
    assert report is not None and report.action_id == league.id

    # None of them.
    out = await _file_with_action(member, "None of them")
    assert "🎯" not in texts(out)[-1]
    await member.tap("✅ Submit")
    second = await session.scalar(select(Report).order_by(Report.id.desc()))
    assert second is not None and second.action_id is None

    # Fixing the first report keeps its action; it can be changed from the preview.
    out = await member.send("/myreports")
    assert "🎯 Youth sports league" in texts(out)[-1]
    await member.press(f"rm:{report.id}:edit")
    out = await member.tap("✏️ Action of the plan")
    out = await member.tap("Parents evenings")
    assert "🎯 Action: Parents evenings" in texts(out)[-1]
    await member.tap("✅ Save changes")
    await session.refresh(report)
    parents = await session.scalar(select(PlanAction).where(PlanAction.title == "Parents evenings"))
    assert parents is not None and report.action_id == parents.id

    # The coordinator's list and view show it.
    out = await coordinator.send("/reports")
    assert "🎯 Parents evenings" in texts(out)[-1]
    out = await coordinator.press(f"rv:{report.id}")
    assert "🎯 Action: Parents evenings" in texts(out)[-1]

    # /plan counts the linked reports and participants.
    out = await member.send("/plan")
    assert "📝 1 report · 👥 20 participants" in texts(out)[-1]


async def test_forged_action_ids_are_not_stored(session, person):
    network, member, _coordinator = await setup(session, person)
    await add_action(session, network, "Youth sports league")
    await member.send("/report")
    for step in ("rt:workshop", "rd:0", "rn:5", "ra:none"):
        await member.press(step)
    out = await member.press("ract:999")
    assert texts(out) == []  # not offered: ignored, the question stays
    await member.press("ract:0")
    await member.send("Done")
    await member.press("rf:skip_file")
    await member.press("rf:submit")
    report = await session.scalar(select(Report))
    assert report is not None and report.action_id is None


async def test_exports_show_the_action(session, person):
    network, member, _coordinator = await setup(session, person)
    await add_action(session, network, "Youth sports league")
    await _file_with_action(member, "Youth sports league")
    await member.tap("✅ Submit")
    actor = Actor.build(3, await users.get_by_tg_id(session, 3), frozenset())
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        export = await service.export_reports(
            session, network_id=network.id, since=None, until=None, formats=("csv", "xlsx"),
            locale="en", actor=actor, now=utcnow(),
        )
    rows = list(csv.reader(io.StringIO(export.files["csv"].decode("utf-8-sig"), newline="")))
    assert rows[0][-1] == "Action" and rows[1][-1] == "Youth sports league"
    sheet = load_workbook(io.BytesIO(export.files["xlsx"])).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-1] == "Action" and values[1][-1] == "Youth sports league"
