"""Activity reports through the real dispatcher: the dialog, its refusals, a member's own
reports, coordinators' lists and review, notices to coordinators, privacy."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.methods import SendMessage
from aiogram.types import Document, Message, PhotoSize, ReplyKeyboardMarkup, Update
from sqlalchemy import func, select, update

from bot.factory import create_dispatcher
from bot.services import reports as service
from storage.models import User, utcnow
from storage.models.reports import Report
from tests.helpers import make_network, member_of
from tests.people import Person, buttons, texts

_ids = itertools.count(50_000)


async def send_file(
    p: Person, *, kind: str = "photo", caption: str | None = None, file_id: str = "PHOTO-1"
) -> list[Any]:
    """The person sends a photo (or a document), optionally with a caption."""
    extra: dict[str, Any] = {"caption": caption}
    if kind == "photo":
        extra["photo"] = [
            PhotoSize(file_id=file_id + "-small", file_unique_id="s", width=90, height=90),
            PhotoSize(file_id=file_id, file_unique_id="b", width=1280, height=960),
        ]
    else:
        extra["document"] = Document(file_id=file_id, file_unique_id="d", file_name="list.pdf")
    message = Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=p.chat,
        from_user=p.user,
        **extra,
    )
    return await p.feed(Update(update_id=next(_ids), message=message))


async def setup(session, person, **kw):  # type: ignore[no-untyped-def]
    network = await make_network(session, **kw)
    member, coordinator = person(2), person(3)
    await member_of(session, member, network, name="Rana", sector="youth_worker")
    await member_of(session, coordinator, network, role="coordinator", name="Omar")
    return network, member, coordinator


def data(requests: list[Any]) -> list[str]:
    return [b[1] for b in buttons(requests)]


async def count_reports(session) -> int:  # type: ignore[no-untyped-def]
    return int(await session.scalar(select(func.count()).select_from(Report)) or 0)


async def file_report(member: Person, description: str = "Football and talk") -> list[Any]:
    """The common path: six taps and one typed text."""
    out = await member.send("/report")
    assert "rt:workshop" in data(out), out
    out = await member.tap("Awareness session")
    assert "rd:0" in data(out)
    out = await member.tap("Today", contains=True)
    assert "rn:20" in data(out)
    out = await member.tap("20")
    assert "ra:youth" in data(out)
    out = await member.tap("Young people (18–29)")
    assert texts(out) == ["Describe the activity in a few words (up to 1,000 characters)."]
    out = await member.send(description)
    assert "rf:skip_file" in data(out)
    out = await member.tap("Skip")
    assert "rf:submit" in data(out)
    return await member.tap("✅ Submit")


async def test_whole_dialog_in_six_taps(session, person):
    network, member, _coordinator = await setup(session, person)
    out = await file_report(member, "Football & <b>talk</b> with 20 youths")
    report = await session.scalar(select(Report))
    assert report is not None
    assert (report.activity_type, report.participants, report.age_group) == (
        "awareness",
        20,
        "youth",
    )
    assert report.activity_date == service.local_today(network, utcnow())
    assert report.description == "Football & <b>talk</b> with 20 youths"  # stored as typed
    assert report.author_sector == "youth_worker" and report.network_id == network.id
    assert report.attachment_file_id is None and report.status == "new"
    confirmation = texts(out)[-1]
    assert f"<b>R-{report.id}</b>" in confirmation and "/myreports" in confirmation
    markup = out[-1].reply_markup
    assert isinstance(markup, ReplyKeyboardMarkup) and markup.is_persistent
    assert markup.keyboard[0][0].text == "📝 Report an activity"
    # the preview's buttons are gone, so it cannot be submitted twice
    out = await member.press("rf:submit")
    assert texts(out) == ["This button is no longer valid."]
    assert await count_reports(session) == 1


async def test_html_in_the_description_is_escaped_in_every_view(session, person):
    _network, member, coordinator = await setup(session, person)
    out = await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Yesterday", contains=True)
    await member.tap("5")
    await member.tap("Skip")
    await member.send("<script>alert(1)</script> & <b")
    out = await member.tap("Skip")
    preview = texts(out)[-1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b" in preview
    assert "<script>" not in preview
    await member.tap("✅ Submit")
    report = await session.scalar(select(Report))
    out = await coordinator.press(f"rv:{report.id}")
    view = texts(out)[-1]
    assert "&lt;script&gt;" in view and "<script>" not in view


async def test_the_persistent_button_and_yesterday(session, person):
    network, member, _c = await setup(session, person)
    out = await member.send("📝 Report an activity")
    assert "rt:workshop" in data(out)
    await member.tap("Mentoring")
    await member.tap("Yesterday", contains=True)
    await member.send("12")
    await member.tap("Skip")
    await member.send("Mentoring two brothers")
    await member.tap("Skip")
    await member.tap("✅ Submit")
    report = await session.scalar(select(Report))
    assert report.activity_date == service.local_today(network, utcnow()) - timedelta(days=1)
    assert report.age_group is None and report.participants == 12


async def test_bad_dates_are_refused_with_the_reason(session, person):
    network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Dialogue session")
    today = service.local_today(network, utcnow())
    out = await member.send((today + timedelta(days=1)).isoformat())
    assert texts(out) == [
        "This date is in the future. Please report activities that already took place."
    ]
    out = await member.send((today - timedelta(days=31)).isoformat())
    assert "more than 30 days ago" in texts(out)[0]
    out = await member.send("last Tuesday")
    assert texts(out) == [
        f"Please type the date as YYYY-MM-DD, for example {today.isoformat()}, or use a button."
    ]
    out = await member.send("2025-02-30")
    assert "YYYY-MM-DD" in texts(out)[0]
    # a photo where a date is expected: asked again
    out = await send_file(member)
    assert texts(out) == ["Please tap a button or type the date as YYYY-MM-DD."]
    day = today - timedelta(days=30)
    out = await member.send(day.isoformat())
    assert "rn:20" in data(out)
    data_now = await member.dp.storage.get_data(_key(member))
    assert data_now["date"] == day.isoformat()


def _key(p: Person):  # type: ignore[no-untyped-def]
    from aiogram.fsm.storage.base import StorageKey

    return StorageKey(bot_id=42, chat_id=p.chat.id, user_id=p.user.id)


async def test_bad_numbers_get_a_polite_re_ask(session, person):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Sports, arts or culture")
    await member.tap("Today", contains=True)
    ask = "Please send just the number of participants, for example 20."
    assert texts(await member.send("about 20")) == [ask]
    assert texts(await member.send("-3")) == [ask]
    assert texts(await member.send("2.5")) == [ask]
    assert texts(await send_file(member)) == [ask]  # a photo where a number is asked
    out = await member.send("10001")
    assert texts(out) == ["That is more than 10,000 participants. Please check the number."]
    out = await member.send("٢٠")  # Arabic-Indic digits
    assert "ra:youth" in data(out)
    assert (await member.dp.storage.get_data(_key(member)))["participants"] == 20


async def test_description_length_limit(session, person):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    await member.send("1,200")
    await member.tap("Mixed ages")
    out = await member.send("x" * 1001)
    assert texts(out) == [
        "Your text has 1,001 characters; the limit is 1,000. Please shorten it and send it again."
    ]
    out = await member.send("   ")
    assert texts(out) == ["Please write a few words."]
    out = await member.send("y" * 1000)
    assert "rf:skip_file" in data(out)
    assert (await member.dp.storage.get_data(_key(member)))["participants"] == 1200


async def test_photo_and_document_are_kept_as_file_ids(session, person):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    await member.tap("15")
    await member.tap("Children (under 12)")
    await member.send("Drawing workshop")
    out = await member.send("here is a photo")  # text where a file is expected
    assert texts(out) == ["Please send a photo or a document, or tap Skip."]
    out = await send_file(member, file_id="BIG-PHOTO")
    assert "📎 Photo attached" in texts(out)[-1]
    # change it for a document from the preview
    out = await member.tap("✏️ Photo or document")
    assert {"rf:skip_file", "rf:remove_file"} <= set(data(out))
    out = await send_file(member, kind="document", file_id="DOC-9")
    assert "📎 Document attached" in texts(out)[-1]
    await member.tap("✅ Submit")
    report = await session.scalar(select(Report))
    assert (report.attachment_kind, report.attachment_file_id) == ("document", "DOC-9")


async def test_photo_with_caption_at_the_description_step(session, person):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    await member.tap("15")
    await member.tap("Skip")
    out = await send_file(member, caption="Photo of the drawing workshop")
    assert "rf:submit" in data(out)  # straight to the preview
    await member.tap("✅ Submit")
    report = await session.scalar(select(Report))
    assert report.description == "Photo of the drawing workshop"
    assert report.attachment_file_id == "PHOTO-1"  # the largest size


async def test_cancel_stores_nothing_and_the_preview_can_fix_a_field(session, person):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    out = await member.send("/cancel")
    assert texts(out) == ["Cancelled. Nothing was changed."]
    assert await member.dp.storage.get_state(_key(member)) is None
    await member.send("/report")
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    await member.tap("30")
    await member.tap("Skip")
    await member.send("Session")
    out = await member.tap("Skip")
    out = await member.tap("✏️ Participants")
    assert "rn:20" in data(out)
    out = await member.send("31")
    assert "31 participants" in texts(out)[-1] and "rf:submit" in data(out)
    out = await member.tap("Cancel")
    assert texts(out) == ["Cancelled. Nothing was stored."]
    assert await count_reports(session) == 0


async def test_a_half_filled_dialog_survives_a_restart(
    session, person, settings, session_pool, bot
):
    _network, member, _c = await setup(session, person)
    await member.send("/report")
    await member.tap("Training attended")
    await member.tap("Today", contains=True)
    # the bot restarts: a new dispatcher on the same database
    dp2 = create_dispatcher(settings, session_pool, bot)
    again = Person(dp2, bot, member.user.id)
    out = await again.send("25")
    assert "ra:youth" in data(out)
    await again.tap("Adults (30 and over)")
    await again.send("Training on early signs")
    await again.tap("Skip")
    await again.tap("✅ Submit")
    report = await session.scalar(select(Report))
    assert (report.activity_type, report.participants) == ("training", 25)


async def test_arabic_member_sees_dates_and_numbers_in_arabic(session, person):
    network = await make_network(session)
    member = person(7, language_code="ar")
    await member_of(session, member, network, lang="ar", name="سارة")
    await member.send("/report")
    await member.tap("ورشة عمل")
    out = await member.tap("اليوم", contains=True)
    await member.send("1500")
    await member.tap("تخطي")
    await member.send("ورشة عن الوقاية مع الشباب")
    out = await member.tap("تخطي")
    preview = texts(out)[-1]
    today = service.local_today(network, utcnow())
    assert service.fmt_date(today, "ar", "long") in preview  # an Arabic month name
    assert service.fmt_date(today, "en", "long") not in preview
    assert "ورشة عن الوقاية مع الشباب" in preview
    # a French member gets French grouping of numbers
    member = person(17, language_code="fr")
    await member_of(session, member, network, lang="fr", name="Léa")
    await member.send("/report")
    await member.tap("Atelier")
    await member.tap("Aujourd'hui", contains=True)
    await member.send("1500")
    await member.tap("Passer")
    await member.send("Atelier")
    out = await member.tap("Passer")
    assert "1\u202f500" in texts(out)[-1]


async def test_member_picks_the_network_when_in_several(session, person):
    saida = await make_network(session, "saida")
    irbid = await make_network(session, "irbid", country="JO", timezone="Asia/Amman")
    member = person(8)
    await member_of(session, member, saida)
    await member_of(session, member, irbid)
    out = await member.send("/report")
    assert set(data(out)) == {f"net:report:{saida.id}", f"net:report:{irbid.id}"}
    out = await member.tap("Irbid Network")
    assert "Irbid Network" in texts(out)[0] and "rt:workshop" in data(out)
    await member.tap("Workshop")
    await member.tap("Today", contains=True)
    await member.tap("5")
    await member.tap("Skip")
    await member.send("In Irbid")
    await member.tap("Skip")
    await member.tap("✅ Submit")
    report = await session.scalar(select(Report))
    assert report.network_id == irbid.id
    # a network they are not in cannot be picked with a forged button
    other = await make_network(session, "zarqa", country="JO", timezone="Asia/Amman")
    out = await member.press(f"net:report:{other.id}")
    assert texts(out) == ["Sorry, you are not allowed to do that."]


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
    newest = await session.scalar(select(Report).where(Report.description == "report 0"))
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


def at_local(network_tz: str, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZoneInfo(network_tz)).astimezone(
        UTC
    )


def next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)
