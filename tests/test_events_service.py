"""Events without the dispatcher: typed dates, time zones and DST, reminder instants, the
calendar file (parsed back with icalendar), texts and their limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.i18n import create_i18n
from bot.ics import CalendarEvent, build_ics, filename
from bot.services import events
from bot.services.events import Card, EventError, Problem

BEIRUT = ZoneInfo("Asia/Beirut")
AMMAN = ZoneInfo("Asia/Amman")
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def problem(call, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(EventError) as info:
        call(*args)
    return info.value.problem


# ----------------------------------------------------------------- typed dates


def test_typed_start_in_the_network_zone_across_dst():
    # Beirut: UTC+2 in winter, UTC+3 from 2026-03-29 00:00 (clocks jump to 01:00).
    assert events.parse_start("2026-03-28 17:00", BEIRUT, NOW) == utc(2026, 3, 28, 15, 0)
    assert events.parse_start("2026-03-30 17:00", BEIRUT, NOW) == utc(2026, 3, 30, 14, 0)
    assert events.parse_start(" 2026-3-30  9:05 ", BEIRUT, NOW) == utc(2026, 3, 30, 6, 5)
    # Amman keeps UTC+3 all year.
    assert events.parse_start("2026-03-28 17:00", AMMAN, NOW) == utc(2026, 3, 28, 14, 0)
    # The hour the clocks skip does not exist.
    assert problem(events.parse_start, "2026-03-29 00:30", BEIRUT, NOW) == Problem.NONEXISTENT
    # The repeated hour in October (23:00-24:00 on the 24th) means its first occurrence.
    october = datetime(2026, 10, 1, tzinfo=UTC)
    assert events.parse_start("2026-10-24 23:30", BEIRUT, october) == utc(2026, 10, 24, 20, 30)


def test_typed_start_refusals():
    assert problem(events.parse_start, "31/03/2026 17:00", BEIRUT, NOW) == Problem.FORMAT
    assert problem(events.parse_start, "2026-02-30 10:00", BEIRUT, NOW) == Problem.FORMAT
    assert problem(events.parse_start, "2026-03-31 25:00", BEIRUT, NOW) == Problem.FORMAT
    assert problem(events.parse_start, "2026-03-20 10:00", BEIRUT, NOW) == Problem.PAST
    assert problem(events.parse_start, "2027-06-01 10:00", BEIRUT, NOW) == Problem.TOO_FAR


def test_quick_buttons_start():
    at = events.parse_time_of_day("17:00")
    assert events.start_on_day("2026-03-31", at, BEIRUT, NOW) == utc(2026, 3, 31, 14, 0)
    assert problem(events.start_on_day, "2026-03-19", at, BEIRUT, NOW) == Problem.PAST
    assert problem(events.parse_time_of_day, "5pm") == Problem.FORMAT


def test_end_as_time_length_or_date():
    start = utc(2026, 3, 31, 14, 0)  # 17:00 in Beirut
    assert events.parse_end("19:00", start, BEIRUT) == utc(2026, 3, 31, 16, 0)
    assert events.parse_end("2h", start, BEIRUT) == utc(2026, 3, 31, 16, 0)
    assert events.parse_end("90m", start, BEIRUT) == utc(2026, 3, 31, 15, 30)
    assert events.parse_end("1h30m", start, BEIRUT) == utc(2026, 3, 31, 15, 30)
    assert events.parse_end("2026-04-01 12:00", start, BEIRUT) == utc(2026, 4, 1, 9, 0)
    assert problem(events.parse_end, "16:00", start, BEIRUT) == Problem.END_BEFORE_START
    assert problem(events.parse_end, "8d", start, BEIRUT) == Problem.TOO_LONG
    assert problem(events.parse_end, "soon", start, BEIRUT) == Problem.FORMAT


def test_texts_are_cleaned_and_limited():
    assert events.clean_text("  Town   hall  ", 150) == "Town hall"
    assert events.clean_text("a\n\n\n\nb", 500, multiline=True) == "a\n\nb"
    assert problem(events.clean_text, "   ", 10) == Problem.TEXT_EMPTY
    assert problem(events.clean_text, "/start", 10) == Problem.TEXT_EMPTY
    with pytest.raises(EventError) as info:
        events.clean_text("x" * 101, events.TITLE_MAX)
    assert info.value.problem == Problem.TEXT_TOO_LONG
    assert info.value.details == {"limit": 100, "length": 101}


def test_reminder_offsets_typed():
    assert events.parse_offsets("1d 3h 30m") == [1440, 180, 30]
    assert events.parse_offsets("60m, 1h") == [60]
    assert events.parse_offsets("1m") == [1]
    assert events.parse_offsets("none") == []
    for bad in ("0m", "15d", "soon", "1d 2d 3d 4d 5d 6d 7d", ""):
        assert problem(events.parse_offsets, bad) == Problem.OFFSETS, bad


# ------------------------------------------------------------ reminder instants


def test_reminder_instants_across_the_march_change():
    start = events.parse_start("2026-03-29 10:00", BEIRUT, NOW)  # EEST, UTC+3
    assert start == utc(2026, 3, 29, 7, 0)
    # A day before keeps the wall time: 10:00 on the 28th, still EET (UTC+2).
    assert events.reminder_due(start, 1440, BEIRUT) == utc(2026, 3, 28, 8, 0)
    # Hours and minutes are exact durations.
    assert events.reminder_due(start, 60, BEIRUT) == utc(2026, 3, 29, 6, 0)
    assert events.reminder_due(start, 12 * 60, BEIRUT) == utc(2026, 3, 28, 19, 0)


def test_reminder_instants_across_the_october_change():
    start = events.parse_start("2026-10-25 10:00", BEIRUT, NOW)  # back to EET, UTC+2
    assert start == utc(2026, 10, 25, 8, 0)
    assert events.reminder_due(start, 1440, BEIRUT) == utc(2026, 10, 24, 7, 0)  # 10:00 EEST
    assert events.reminder_due(start, 2 * 1440, BEIRUT) == utc(2026, 10, 23, 7, 0)
    assert events.reminder_due(start, 60, BEIRUT) == utc(2026, 10, 25, 7, 0)


def test_a_day_before_a_skipped_wall_time_is_well_defined():
    # 00:30 on the 29th of March does not exist; a day before 00:30 on the 30th lands on
    # the same instant an hour later (01:30 EEST), never raises.
    start = events.parse_start("2026-03-30 00:30", BEIRUT, NOW)
    due = events.reminder_due(start, 1440, BEIRUT)
    assert due == utc(2026, 3, 28, 22, 30)
    assert due.astimezone(BEIRUT).strftime("%H:%M") == "01:30"


# ------------------------------------------------------------------ calendar file


def ics(sequence: int = 0, cancelled: bool = False, tz: str = "Asia/Beirut") -> icalendar.Calendar:
    data = build_ics(
        CalendarEvent(
            uid="abc-123@prevnet",
            sequence=sequence,
            title="Training; <youth> & co",
            place="Town hall, room 2",
            description="Bring\nyour notes",
            starts_at=utc(2026, 3, 31, 14, 0),
            ends_at=utc(2026, 3, 31, 16, 0),
            timezone=tz,
            kind="training",
        ),
        now=NOW,
        cancelled=cancelled,
    )
    return icalendar.Calendar.from_ical(data)


def test_calendar_file_parses_back_with_zone_uid_and_sequence():
    cal = ics(sequence=2)
    assert str(cal["METHOD"]) == "PUBLISH"
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == "abc-123@prevnet"
    assert int(event["SEQUENCE"]) == 2
    assert str(event["SUMMARY"]) == "Training; <youth> & co"
    assert str(event["LOCATION"]) == "Town hall, room 2"
    assert str(event["DESCRIPTION"]) == "Bring\nyour notes"
    assert str(event["STATUS"]) == "CONFIRMED"
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "Asia/Beirut"
    assert (start.hour, start.minute) == (17, 0)  # wall time in Beirut
    assert start.astimezone(UTC) == utc(2026, 3, 31, 14, 0)
    assert event.decoded("DTEND").astimezone(UTC) == utc(2026, 3, 31, 16, 0)
    # The VTIMEZONE itself is right on both sides of the March change.
    (vtz,) = cal.walk("VTIMEZONE")
    assert str(vtz["TZID"]) == "Asia/Beirut"
    tz = vtz.to_tz()
    assert datetime(2026, 3, 28, 12, 0, tzinfo=tz).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 3, 31, 12, 0, tzinfo=tz).utcoffset() == timedelta(hours=3)
    assert datetime(2026, 11, 2, 12, 0, tzinfo=tz).utcoffset() == timedelta(hours=2)


def test_calendar_file_without_dst():
    cal = ics(tz="Asia/Amman")
    (event,) = cal.walk("VEVENT")
    start = event.decoded("DTSTART")
    assert (start.hour, start.utcoffset()) == (17, timedelta(hours=3))
    tz = cal.walk("VTIMEZONE")[0].to_tz()
    assert datetime(2026, 1, 15, 12, 0, tzinfo=tz).utcoffset() == timedelta(hours=3)
    assert datetime(2026, 7, 15, 12, 0, tzinfo=tz).utcoffset() == timedelta(hours=3)


def test_cancellation_file():
    cal = ics(sequence=3, cancelled=True)
    assert str(cal["METHOD"]) == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == ("abc-123@prevnet", 3)
    assert str(event["STATUS"]) == "CANCELLED"


def test_calendar_file_name():
    assert filename("training", utc(2026, 3, 31, 22, 30), "Asia/Beirut") == (
        "training-2026-04-01.ics"
    )


# ------------------------------------------------------------------------- texts


@pytest.fixture(scope="module")
def i18n():  # type: ignore[no-untyped-def]
    return create_i18n("en")


def card(description: str | None = None) -> Card:
    return Card(
        kind="workshop",
        title="<b>Youth</b> & sport",
        place="Saida <Town> hall",
        description=description,
        starts_at=utc(2026, 3, 31, 14, 0),
        ends_at=utc(2026, 3, 31, 16, 0),
        timezone="Asia/Beirut",
    )


def test_announcement_in_each_language_escapes_and_fits_a_caption(i18n):
    texts = events.in_locales(
        i18n, lambda loc: events.announcement_text(card("<&>" * 300), loc)
    )
    assert set(texts) == {"ar", "en", "fr"}
    for text in texts.values():
        assert events.utf16_len(text) <= events.CAPTION_MAX
        assert "&lt;b&gt;Youth&lt;/b&gt; &amp; sport" in text
        assert "Saida &lt;Town&gt; hall" in text
        assert "<&>" not in text and text.count("…") == 1
    english = texts["en"].replace("\u202f", " ")  # Babel puts a narrow space before PM
    assert "Tuesday, March 31, 2026, 5:00 PM–7:00 PM" in english
    assert "mardi 31 mars 2026" in texts["fr"] and "17:00" in texts["fr"]
    assert "مارس" in texts["ar"]


def test_short_description_is_kept_whole(i18n):
    with i18n.context(), i18n.use_locale("en"):
        text = events.announcement_text(card("Bring your notes."), "en")
    assert "Bring your notes." in text and "…" not in text


def test_rsvp_buttons_carry_labels_per_locale(i18n):
    (row,) = events.rsvp_buttons(i18n, 7)
    assert [b["callback_data"] for b in row] == ["rsvp:7:going", "rsvp:7:maybe", "rsvp:7:no"]
    assert set(row[0]["text"]) == {"ar", "en", "fr"}
    assert row[0]["text"]["en"] == "✅ Going"


def test_duration_labels(i18n):
    with i18n.context(), i18n.use_locale("en"):
        assert events.duration_label(1440) == "1 day"
        assert events.duration_label(90) == "1 hour 30 minutes"
        assert events.offsets_label([1440, 60]) == "1 day and 1 hour"
        assert events.offsets_label([]) == "no reminders"
    with i18n.context(), i18n.use_locale("ar"):  # the parts joined with "and", as said
        assert events.duration_label(90) == "ساعة واحدة و30 دقيقة"
        assert events.duration_label(1440 + 120) == "يوم واحد وساعتين"
