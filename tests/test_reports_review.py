"""Activity reports through the real dispatcher: refusals, a member's own reports,
coordinators' lists and review, notices to coordinators, privacy, nudge settings."""

from __future__ import annotations

import json
from datetime import timedelta

from aiogram.methods import SendMessage
from sqlalchemy import select, update

from bot.services import reports as service
from storage.models import User, utcnow
from storage.models.reports import Report
from tests.helpers import make_network, member_of
from tests.people import buttons, texts
from tests.reports_helpers import count_reports, data, file_report, setup


async def test_strangers_and_members_are_kept_out(session, person):
    network, member, _c = await setup(session, person)
    assert "join your network first" in texts(await person(99).send("/report"))[0]
    for command in ("/reports", "/export"):
        assert texts(await member.send(command)) == [f"Only coordinators can use {command}."]
    await file_report(member)
    report = await session.scalar(select(Report))
    # a member's forged coordinator buttons do not reach a handler
    for forged in (
        f"rv:{report.id}",
        f"rr:{report.id}:ok",
        f"rl:{network.id}:0::0",
        f"rx:{network.id}:all",
        f"rset:{network.id}:nudge:1",
    ):
        assert texts(await member.press(forged)) == ["This button is no longer valid."], forged
    await session.refresh(report)
    assert report.status == "new"


async def test_myreports_edit_and_withdraw_within_24_hours(session, person):
    _network, member, _c = await setup(session, person)
    await file_report(member, "First version")
    report = await session.scalar(select(Report))
    out = await member.send("/myreports")
    assert f"R-{report.id}" in texts(out)[0]
    assert {f"rm:{report.id}:edit", f"rm:{report.id}:withdraw"} <= set(data(out))
    out = await member.tap("✏️ R-1 · First version")
    assert "✅ Save changes" in [b[0] for b in buttons(out)]
    await member.tap("✏️ Description")
    out = await member.send("Second version")
    assert "Second version" in texts(out)[-1]
    out = await member.tap("✅ Save changes")
    assert texts(out)[-1] == f"Your report R-{report.id} was updated."
    await session.refresh(report)
    assert report.description == "Second version" and report.updated_at is not None
    assert await count_reports(session) == 1
    # withdraw: asked first
    out = await member.tap("🗑 R-1 · First version")
    assert f"rm:{report.id}:confirm" in data(out)
    out = await member.tap("No, keep it")
    assert await count_reports(session) == 1
    out = await member.press(f"rm:{report.id}:confirm")
    assert texts(out) == [f"Report R-{report.id} was withdrawn."]
    assert await count_reports(session) == 0


async def test_no_fixing_after_24_hours_nor_of_others_reports(session, person):
    network, member, _c = await setup(session, person)
    await file_report(member)
    report = await session.scalar(select(Report))
    other = person(4)
    await member_of(session, other, network)
    out = await other.press(f"rm:{report.id}:withdraw")
    assert texts(out) == ["Sorry, you are not allowed to do that."]
    await session.execute(update(Report).values(created_at=utcnow() - timedelta(hours=25)))
    await session.commit()
    out = await member.send("/myreports")
    assert not data(out)  # no buttons any more
    out = await member.press(f"rm:{report.id}:edit")
    assert texts(out) == ["Reports can only be changed or withdrawn within 24 hours."]
    out = await member.press(f"rm:{report.id}:confirm")
    assert await count_reports(session) == 1


async def test_coordinator_lists_filters_pages_and_reviews(session, person, bot):
    network, member, coordinator = await setup(session, person)
    author = await session.scalar(select(User).where(User.tg_id == member.user.id))
    today = service.local_today(network, utcnow())
    for i in range(11):
        session.add(
            Report(
                network_id=network.id,
                author_id=author.id,
                author_sector="youth_worker",
                activity_type="workshop" if i % 2 else "mentoring",
                activity_date=today - timedelta(days=i * 5),
                participants=i,
                description=f"report {i}",
                attachment_kind="photo" if i == 0 else None,
                attachment_file_id="PH-0" if i == 0 else None,
                status="new",
            )
        )
    await session.commit()
    out = await coordinator.send("/reports")
    head = texts(out)[0]
    assert "11 reports" in head and "Page 1 of 2" in head and "Rana (Youth worker)" in head
    opened = [d for d in data(out) if d.startswith("rv:")]
    assert len(opened) == service.PAGE_SIZE
    assert f"rl:{network.id}:1::0" in data(out)
    out = await coordinator.tap("›")
    assert "Page 2 of 2" in texts(out)[0]
    assert len([d for d in data(out) if d.startswith("rv:")]) == 3
    # filter by type and by period
    out = await coordinator.tap("Type: all types")
    assert f"rl:{network.id}:0:workshop:0" in data(out)
    out = await coordinator.tap("Workshop")
    assert "5 reports (Workshop · all time)" in texts(out)[0]
    out = await coordinator.press(f"rl:{network.id}:0::30")
    assert "6 reports (last 30 days)" in texts(out)[0]
    # open the newest (with its photo) and review it
    # (compared in Python: descriptions may be encrypted, storage/crypto.py)
    newest = next(r for r in await session.scalars(select(Report)) if r.description == "report 0")
    out = await coordinator.tap("R-1")
    assert type(out[1]).__name__ == "SendPhoto" and out[1].photo == "PH-0"
    assert {f"rr:{newest.id}:ok", f"rr:{newest.id}:flag"} <= set(data(out))
    out = await coordinator.tap("✓ Mark reviewed")
    assert "Status: reviewed" in texts(out)[-1]
    await session.refresh(newest)
    assert newest.status == "reviewed" and newest.reviewed_at is not None
    # flag with a note: the author is told, in their language
    out = await coordinator.tap("⚑ Flag with a note")
    assert "Write a short note" in texts(out)[0]
    out = await coordinator.send("x" * 501)
    assert "limit is 500" in texts(out)[0]
    out = await coordinator.send("How many were <girls>?")
    assert "Status: flagged" in texts(out)[0] and "&lt;girls&gt;" in texts(out)[0]
    told = [r for r in out if isinstance(r, SendMessage) and r.chat_id == member.user.id]
    assert told and "How many were &lt;girls&gt;?" in told[0].text
    await session.refresh(newest)
    assert newest.status == "flagged" and newest.review_note == "How many were <girls>?"


async def test_forged_callback_for_another_networks_report(session, person):
    _saida, member, coordinator = await setup(session, person)
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    stranger_member = person(20)
    await member_of(session, stranger_member, irbid)
    await file_report(stranger_member, "Irbid's own")
    theirs = await session.scalar(select(Report))
    assert theirs.network_id == irbid.id
    refused = ["Sorry, you are not allowed to do that."]
    assert texts(await coordinator.press(f"rv:{theirs.id}")) == refused
    assert texts(await coordinator.press(f"rr:{theirs.id}:ok")) == refused
    assert texts(await coordinator.press(f"rr:{theirs.id}:flag")) == refused
    assert texts(await coordinator.press(f"rl:{irbid.id}:0::0")) == refused
    assert texts(await coordinator.press(f"rtm:{irbid.id}:0")) == refused
    assert texts(await coordinator.press(f"rx:{irbid.id}:all")) == refused
    assert texts(await coordinator.press(f"rset:{irbid.id}:nudge:1")) == refused
    assert texts(await coordinator.press("rv:999999")) == refused  # unknown: same answer
    await session.refresh(theirs)
    assert theirs.status == "new"
    assert await service.get_settings(session, irbid.id) == service.ReportSettingsView(irbid.id)
    # the member of Irbid cannot fix it through someone else either
    assert texts(await member.press(f"rm:{theirs.id}:confirm")) == refused
    assert await count_reports(session) == 1


async def test_coordinators_get_one_notice_per_batch(session, person, delivery, dp, bot):
    network, member, coordinator = await setup(session, person)
    second = person(5)
    await member_of(session, second, network, role="coordinator", lang="fr", name="Léa")
    await file_report(member, "One")
    i18n = dp["i18n"]
    # within the quiet period nothing is sent yet
    assert await service.notify_new_reports(dp["session_pool"], delivery, i18n, utcnow()) == 0
    later = utcnow() + timedelta(seconds=10)
    assert await service.notify_new_reports(dp["session_pool"], delivery, i18n, later) == 1
    await delivery.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert sorted(r.chat_id for r in sent) == [coordinator.user.id, second.user.id]
    report = await session.scalar(select(Report))
    for r in sent:
        assert f"R-{report.id}" in r.text
        assert [b[1] for b in buttons([r])] == [f"rv:{report.id}"]
    en = next(r for r in sent if r.chat_id == coordinator.user.id)
    assert en.text.startswith(f"New activity report R-{report.id} from Rana (Youth worker)")
    fr = next(r for r in sent if r.chat_id == second.user.id)  # in her language
    assert "Rana (Animateur jeunesse)" in fr.text
    assert service.fmt_date(report.activity_date, "fr", "long") in fr.text
    # already notified: nothing more
    assert await service.notify_new_reports(dp["session_pool"], delivery, i18n, later) == 0
    # three at once: one message each, listing the three
    for text in ("Two", "Three", "Four"):
        await file_report(member, text)
    bot.take_requests()
    later = utcnow() + timedelta(seconds=10)
    assert await service.notify_new_reports(dp["session_pool"], delivery, i18n, later) == 3
    await delivery.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendMessage)]
    assert len(sent) == 2
    en = next(r for r in sent if r.chat_id == coordinator.user.id)
    assert en.text.startswith("3 new activity reports in <b>Saida Network</b>:")
    assert len([d for d in data([en]) if d.startswith("rv:")]) == 3
    assert f"rl:{network.id}:0::0" in data([en])
    # the coordinator opens it from the notice
    out = await coordinator.tap("Open R-2")
    assert "Status: new" in texts(out)[-1]


async def test_a_coordinators_own_report_is_not_notified_to_them(session, person, delivery, dp):
    network = await make_network(session)
    coordinator = person(3)
    await member_of(session, coordinator, network, role="coordinator")
    await file_report(coordinator, "Mine")
    later = utcnow() + timedelta(seconds=10)
    assert await service.notify_new_reports(dp["session_pool"], delivery, dp["i18n"], later) == 1
    await delivery.run_until_idle()
    assert not [r for r in coordinator.bot.take_requests() if isinstance(r, SendMessage)]


async def test_leaving_anonymises_reports_and_mydata_lists_them(session, person):
    _network, member, coordinator = await setup(session, person)
    await file_report(member, "Kept for the statistics")
    out = await member.send("/mydata")
    doc = next(r for r in out if type(r).__name__ == "SendDocument")
    mine = json.loads(doc.document.data)["activity_reports"]
    assert [r["description"] for r in mine] == ["Kept for the statistics"]
    out = await member.send("/leave")
    await member.tap("Yes, leave and erase")
    report = await session.scalar(select(Report).execution_options(populate_existing=True))
    assert report is not None and report.author_id is None
    assert report.author_sector == "youth_worker"
    out = await coordinator.send("/reports")
    assert "former member (Youth worker)" in texts(out)[0] and "Rana" not in texts(out)[0]


async def test_nudge_settings_from_reports(session, person):
    network, _member, coordinator = await setup(session, person)
    out = await coordinator.send("/reports")
    assert f"rset:{network.id}:show:0" in data(out)
    out = await coordinator.tap("⏰ Nudge settings")
    assert "Reminders are <b>off</b>" in texts(out)[0]
    assert "not on Saturday and Sunday" in texts(out)[0]
    out = await coordinator.tap("Turn reminders on")
    assert "Reminders are <b>on</b>" in texts(out)[-1]
    out = await coordinator.tap("7 days")
    out = await coordinator.tap("dates up to 90 days back")
    out = await coordinator.press(f"rset:{network.id}:days:8")  # not a choice: ignored
    settings = await service.get_settings(session, network.id)
    assert (settings.nudge_enabled, settings.nudge_days, settings.max_age_days) == (True, 7, 90)
