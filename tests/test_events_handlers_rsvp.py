"""Events through the real dispatcher: RSVP taps, /events, answers and attendance, change
and cancel, /settings and /help."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, SendDocument, SendMessage
from sqlalchemy import func, select

from bot.services import events
from storage.models.events import Event, EventReminder, EventRsvp
from storage.repositories import events as repo
from tests import events_dialog
from tests.events_dialog import (
    OTHER_COORDINATOR,
    REFUSED,
    create_event,
    data_of,
    local,
    stored_event,
)
from tests.events_helpers import COORDINATOR, DECLINED, GOING, MAYBE, SILENT, actor
from tests.people import buttons, texts

# The fixtures of tests/events_dialog.py, bound here for pytest to find.
outbox, saida, irbid = events_dialog.outbox, events_dialog.saida, events_dialog.irbid


# ------------------------------------------------------------------------ RSVP


async def test_rsvp_tap_records_changes_and_shows_the_answer(session, person, saida, bot):
    event = await create_event(session, person(COORDINATOR))
    member = person(GOING)
    out = await member.press(f"rsvp:{event.id}:going", message_id=77)
    assert texts(out) == ["Your answer: Going."]
    (edit,) = [r for r in out if isinstance(r, EditMessageReplyMarkup)]
    assert edit.message_id == 77
    assert [b.text for b in edit.reply_markup.inline_keyboard[0]] == [
        "✓ ✅ Going", "🤔 Maybe", "❌ Not going"
    ]
    out = await member.press(f"rsvp:{event.id}:maybe", message_id=77)
    assert texts(out) == ["Your answer: Maybe."]
    rows = (await session.scalars(
        select(EventRsvp).execution_options(populate_existing=True)
    )).all()
    assert [(r.answer, r.event_id) for r in rows] == [("maybe", event.id)]
    out = await member.send("/events")
    assert "Your answer: Maybe." in texts(out)[0] and "First aid" in texts(out)[0]
    assert f"ev:show:{event.id}" in data_of(out)
    # The event's own view shows the answer with the buttons.
    out = await member.tap("1. First aid")
    assert "Your answer: Maybe." in texts(out)[-1]
    assert f"rsvp:{event.id}:no" in data_of(out) and f"ev:edit:{event.id}" not in data_of(out)
    # /mydata carries the answer too.
    out = await member.send("/mydata")
    (doc,) = [r for r in out if type(r).__name__ == "SendDocument"]
    answers = json.loads(doc.document.data)["event_answers"]  # type: ignore[union-attr]
    assert [(a["event"], a["answer"]) for a in answers] == [("First aid", "maybe")]


async def test_no_rsvp_after_cancellation_or_the_end(session, person, saida, bot, outbox):
    coordinator = person(COORDINATOR)
    event = await create_event(session, coordinator)
    await coordinator.press(f"ev:cancel_ok:{event.id}")
    out = await person(GOING).press(f"rsvp:{event.id}:going")
    assert texts(out) == ["This event was cancelled."]
    now = datetime.now(UTC)
    past = await _past_event(session, saida, bot, outbox, now)
    out = await person(GOING).press(f"rsvp:{past.id}:going")
    assert texts(out) == ["This event is over."]


async def test_events_list_when_nothing_is_planned(person, saida):
    assert texts(await person(GOING).send("/events")) == ["No events are planned at the moment."]


# ------------------------------------------------------- answers and attendance


async def _past_event(session, network, bot, outbox, now: datetime) -> Event:  # type: ignore[no-untyped-def]
    """An event that started an hour ago (made three hours ago)."""
    made = now - timedelta(hours=3)
    draft = events.Draft(
        network_id=network.id, kind="meeting", title="Monthly meeting", place="Hall",
        starts_at=now - timedelta(hours=1), ends_at=now - timedelta(minutes=10),
    )
    i18n = outbox_i18n()
    with i18n.context(), i18n.use_locale("en"):
        published = await events.create_event(
            session, bot, outbox, i18n, await actor(session, COORDINATOR), draft,
            chat_id=COORDINATOR, now=made,
        )
    bot.take_requests()
    return published.event


def outbox_i18n():  # type: ignore[no-untyped-def]
    from bot.i18n import create_i18n

    return create_i18n("en")


async def test_coordinator_sees_answers_and_marks_who_came(session, person, saida, bot, outbox):
    coordinator = person(COORDINATOR)
    event = await create_event(session, coordinator)
    await person(GOING).press(f"rsvp:{event.id}:going")
    await person(MAYBE).press(f"rsvp:{event.id}:maybe")
    await person(DECLINED).press(f"rsvp:{event.id}:no")
    out = await coordinator.tap("👥 Answers")
    text = texts(out)[-1]
    assert "✅ Going (1): Rana" in text and "🤔 Maybe (1): Omar" in text
    assert "❌ Not going (1): Sami" in text and "No answer yet (2): Hana and Lina" in text
    out = await coordinator.press(f"ev:attend:{event.id}")
    assert texts(out) == ["Attendance can be marked once the event has started."]

    past = await _past_event(session, saida, bot, outbox, datetime.now(UTC))
    await session.execute(
        EventRsvp.__table__.insert().values(
            event_id=past.id, user_id=(await actor(session, GOING)).user.id, answer="going",
        )
    )
    await session.commit()
    out = await coordinator.send("/events")
    assert "mark who came" in texts(out)[0] and f"ev:attend:{past.id}" in data_of(out)
    out = await coordinator.tap("✔ Monthly meeting")
    rana = (await actor(session, GOING)).user.id
    assert "Who came to <b>Monthly meeting</b>?" in texts(out)[-1]
    assert data_of(out)[0] == f"att:{past.id}:{rana}"  # those who said yes come first
    out = await coordinator.tap("▫️ Rana")
    assert "Marked as present." in texts(out) and "Marked: 1." in texts(out)[0]
    assert "✅ Rana" in [b[0] for b in buttons(out)]
    assert await repo.attended_count(session, past.id) == 1
    out = await coordinator.tap("✅ Rana")
    assert "Mark removed." in texts(out)
    assert await repo.attended_count(session, past.id) == 0
    # Someone outside the network cannot be marked (a forged user id).
    out = await coordinator.press(f"att:{past.id}:99999")
    assert texts(out) == [REFUSED]


# ---------------------------------------------------------- change and cancel


async def test_change_time_then_cancel_tells_those_going_or_maybe(
    session, person, saida, bot, outbox
):
    coordinator = person(COORDINATOR)
    event = await create_event(session, coordinator)
    await person(GOING).press(f"rsvp:{event.id}:going")
    await person(MAYBE).press(f"rsvp:{event.id}:maybe")
    await person(DECLINED).press(f"rsvp:{event.id}:no")
    await outbox.run_until_idle()
    bot.take_requests()

    out = await coordinator.press(f"ev:show:{event.id}")
    assert {f"ev:who:{event.id}", f"ev:edit:{event.id}", f"ev:cancel:{event.id}"} <= set(
        data_of(out)
    )
    out = await coordinator.tap("✏️ Change")
    assert data_of(out)[:2] == [f"ev:time:{event.id}", f"ev:place:{event.id}"]
    out = await coordinator.tap("🕔 Time")
    assert "It will still last 2 hours." in texts(out)[0]
    out = await coordinator.send(local(-2, 9))
    assert texts(out) == ["This time has already passed. Please choose a time in the future."]
    new_start = local(5, 18, 30)
    out = await coordinator.send(new_start)
    assert texts(out)[-1] == "Changed. 2 people who answered “going” or “maybe” are being told."
    (upload,) = [r for r in out if isinstance(r, SendDocument)]
    cal = icalendar.Calendar.from_ical(upload.document.data)  # type: ignore[union-attr]
    (vevent,) = cal.walk("VEVENT")
    assert str(vevent["UID"]) == event.uid and int(vevent["SEQUENCE"]) == 1
    assert vevent.decoded("DTSTART").strftime("%Y-%m-%d %H:%M") == new_start
    moved = await stored_event(session)
    assert moved.sequence == 1 and moved.ends_at - moved.starts_at == timedelta(hours=2)
    plans = {r.plan for r in await repo.reminder_rows(session, event.id) if r.status == "pending"}
    assert plans == {1}
    await outbox.run_until_idle()
    told = [r for r in bot.take_requests() if isinstance(r, SendDocument)]
    assert sorted(r.chat_id for r in told) == sorted([GOING, MAYBE])
    # Each in their language: GOING reads English, MAYBE French.
    captions = {r.chat_id: r.caption for r in told}
    assert "Changed" in captions[GOING] and "Was:" in captions[GOING]
    assert "Modifié" in captions[MAYBE] and "Avant :" in captions[MAYBE]

    out = await coordinator.press(f"ev:place:{event.id}")
    out = await coordinator.send("Youth centre")
    assert texts(out)[-1].startswith("Changed. 2 people")
    await outbox.run_until_idle()
    told = [r for r in bot.take_requests() if isinstance(r, SendDocument)]
    captions = {r.chat_id: r.caption for r in told}
    assert "Was at: Town hall &lt;A&amp;B&gt;" in captions[GOING]
    assert "Lieu précédent : Town hall &lt;A&amp;B&gt;" in captions[MAYBE]

    out = await coordinator.press(f"ev:cancel:{event.id}")
    assert data_of(out) == [f"ev:cancel_ok:{event.id}", f"ev:show:{event.id}"]
    out = await coordinator.tap("Yes, cancel the event")
    assert "The event is cancelled. 2 people" in texts(out)[-1]
    (upload,) = [r for r in out if isinstance(r, SendDocument)]
    cal = icalendar.Calendar.from_ical(upload.document.data)  # type: ignore[union-attr]
    assert str(cal["METHOD"]) == "CANCEL"
    assert int(cal.walk("VEVENT")[0]["SEQUENCE"]) == 3
    cancelled = await stored_event(session)
    assert cancelled.status == "cancelled"
    assert await session.scalar(
        select(func.count()).select_from(EventReminder).where(EventReminder.status == "pending")
    ) == 0
    await outbox.run_until_idle()
    told = [r for r in bot.take_requests() if isinstance(r, SendDocument)]
    assert sorted(r.chat_id for r in told) == sorted([GOING, MAYBE])
    captions = {r.chat_id: r.caption for r in told}
    assert "Cancelled" in captions[GOING] and "Annulé" in captions[MAYBE]
    # It can no longer be changed, and /events no longer lists it.
    out = await coordinator.press(f"ev:cancel_ok:{event.id}")
    assert texts(out) == ["This event was cancelled."]
    assert texts(await person(GOING).send("/events")) == ["No events are planned at the moment."]


# -------------------------------------------------------------------- /settings


async def test_settings_change_the_reminder_offsets(session, person, saida, irbid):
    coordinator = person(COORDINATOR)
    out = await coordinator.send("/settings")
    assert "Event reminders: 1 day and 1 hour before the start." in texts(out)[0]
    assert f"remoff:{saida.id}:180" in data_of(out) and f"remoff:{saida.id}:0" in data_of(out)
    labels = dict((d, label) for label, d in buttons(out))
    assert labels[f"remoff:{saida.id}:1440"].startswith("🔔")
    assert labels[f"remoff:{saida.id}:180"].startswith("▫️")
    # The other settings of the network are one tap away.
    assert "weekly digest" in texts(await coordinator.tap("📰 Weekly digest"))[-1].lower()
    await coordinator.send("/settings")  # the digest settings replaced the hub
    assert "Report settings of" in texts(await coordinator.tap("⏰ Nudge settings"))[-1]
    out = await coordinator.send("/settings")
    out = await coordinator.tap("▫️ 3 hours")
    assert "1 day, 3 hours, and 1 hour before" in texts(out)[-1]
    assert await repo.reminder_offsets(session, saida.id) == [1440, 180, 60]
    await coordinator.tap("🔔 1 day")
    assert await repo.reminder_offsets(session, saida.id) == [180, 60]
    out = await coordinator.tap("⌨️ Type other times")
    assert "<code>1d 3h 30m</code>" in texts(out)[-1]
    out = await coordinator.send("soon")
    assert texts(out)[0].startswith("Please send up to 6 times")
    out = await coordinator.send("2h 5m 1m")
    assert "2 hours, 5 minutes, and 1 minute before" in texts(out)[-1]
    assert await repo.reminder_offsets(session, saida.id) == [120, 5, 1]
    # Irbid is untouched; its own coordinator sees the defaults.
    out = await person(OTHER_COORDINATOR).send("/settings")
    assert "1 day and 1 hour before" in texts(out)[0] and "Irbid Network" in texts(out)[0]


async def test_help_lists_the_event_commands_by_role(person, saida):
    def commands(out: list[Any]) -> set[str]:
        return {w for t in texts(out) for w in t.split() if w.startswith("/")}

    member = commands(await person(GOING).send("/help"))
    assert "/events" in member and "/newevent" not in member and "/settings" not in member
    coordinator = commands(await person(COORDINATOR).send("/help"))
    assert {"/events", "/newevent", "/settings"} <= coordinator


async def test_rsvp_answer_is_acknowledged_without_a_new_message(session, person, saida):
    event = await create_event(session, person(COORDINATOR))
    out = await person(SILENT).press(f"rsvp:{event.id}:no")
    assert not [r for r in out if isinstance(r, SendMessage)]
    assert [type(r) for r in out] == [AnswerCallbackQuery, EditMessageReplyMarkup]
