"""Activity reports through the real dispatcher: the dialog and its checks (dates, numbers,
length, files, cancel, a restart, Arabic, several networks). Refusals, a member's own
reports, coordinators' lists and review, notices, privacy: test_reports_review.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.types import ReplyKeyboardMarkup
from babel.dates import format_date as babel_format_date
from sqlalchemy import select

from bot.factory import create_dispatcher
from bot.services import reports as service
from storage.models import utcnow
from storage.models.reports import Report
from tests.helpers import make_network, member_of
from tests.people import Person, texts
from tests.reports_helpers import count_reports, data, file_report, send_file, setup


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


def at_local(network_tz: str, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=ZoneInfo(network_tz)).astimezone(
        UTC
    )


def next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


async def test_arabic_dates_stay_whole_beside_a_latin_reference(session, person):
    """/myreports writes "R-13 · 02‏/12‏/2026": without an isolate the day joins the Latin
    reference and the line reads "02 · R-13/2026/12" in a right-to-left chat."""
    network = await make_network(session)
    member = person(7, language_code="ar")
    await member_of(session, member, network, lang="ar", name="سارة")
    await member.send("/report")
    await member.tap("ورشة عمل")
    await member.tap("اليوم", contains=True)
    await member.send("12")
    await member.tap("تخطي")
    await member.send("ورشة")
    await member.tap("تخطي")
    await member.tap("✅ إرسال")
    out = await member.send("/myreports")
    report = await session.scalar(select(Report))
    day = babel_format_date(report.activity_date, "medium", locale="ar")
    assert f"<b>{report.reference}</b> · \u2068{day}\u2069 · " in texts(out)[0]
