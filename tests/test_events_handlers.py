"""Events through the real dispatcher: /newevent with its refusals and every refusal to
outsiders. RSVP taps, /events, answers and attendance, change and cancel, /settings:
test_events_handlers_rsvp.py."""

from __future__ import annotations

from datetime import UTC, timedelta

import icalendar
from aiogram.methods import EditMessageReplyMarkup, SendDocument
from aiogram.types import PhotoSize
from babel.dates import format_date
from sqlalchemy import func, select

from bot.callbacks import NewEventCb
from bot.services import events
from storage.models.events import Event, EventRsvp, EventSettings
from storage.repositories import events as repo
from tests import events_dialog
from tests.events_dialog import (
    BEIRUT,
    OTHER_COORDINATOR,
    REFUSED,
    STALE,
    STRANGER,
    create_event,
    data_of,
    local,
    next_skipped_time,
    stored_event,
)
from tests.events_helpers import COORDINATOR, GOING, MAYBE, MEMBERS
from tests.people import ADMIN_ID, texts

# The fixtures of tests/events_dialog.py, bound here for pytest to find.
outbox, saida, irbid = events_dialog.outbox, events_dialog.saida, events_dialog.irbid


# ---------------------------------------------------------------------- refusals


async def test_members_and_strangers_cannot_plan_events(session, person, saida):
    member, stranger = person(GOING), person(STRANGER)
    for command in ("/newevent", "/settings"):
        assert texts(await member.send(command)) == [
            f"Only coordinators can use {command}."
        ]
    assert "join your network first" in texts(await stranger.send("/events"))[0]
    # Forged dialog and settings buttons never reach a handler.
    for data in ("nev:kind:training", "nev:confirm:1", f"remoff:{saida.id}:60",
                 f"net:newevent:{saida.id}"):
        assert texts(await member.press(data)) == [STALE], data
    assert await session.scalar(select(func.count()).select_from(Event)) == 0
    assert await session.scalar(select(func.count()).select_from(EventSettings)) == 0


async def test_coordinator_of_another_network_is_refused_everywhere(
    session, person, saida, irbid, bot, outbox
):
    event = await create_event(session, person(COORDINATOR))
    outsider = person(OTHER_COORDINATOR)
    bot.take_requests()
    for data in (
        f"rsvp:{event.id}:going", f"ev:show:{event.id}", f"ev:who:{event.id}",
        f"ev:edit:{event.id}", f"ev:time:{event.id}", f"ev:cancel_ok:{event.id}",
        f"ev:attend:{event.id}", f"att:{event.id}:1", f"net:newevent:{saida.id}",
        f"net:settings:{saida.id}", f"remoff:{saida.id}:180", f"remoff:{saida.id}:0",
    ):
        assert texts(await outsider.press(data)) == [REFUSED], data
    # A member of the network cannot manage the event either, nor mark attendance.
    member = person(GOING)
    for data in (f"ev:who:{event.id}", f"ev:edit:{event.id}", f"ev:cancel_ok:{event.id}",
                 f"att:{event.id}:1"):
        assert texts(await member.press(data)) == [REFUSED], data
    # Nothing changed: no answer stored, still scheduled, default reminders.
    assert await session.scalar(select(func.count()).select_from(EventRsvp)) == 0
    assert (await stored_event(session)).status == "scheduled"
    assert await repo.reminder_offsets(session, saida.id) == [1440, 60]
    # /events of the outsider does not show it.
    assert texts(await outsider.send("/events")) == ["No events are planned at the moment."]


async def test_forged_rsvp_callbacks(session, person, saida, bot):
    event = await create_event(session, person(COORDINATOR))
    member = person(GOING)
    assert texts(await member.press(f"rsvp:{event.id}:yes")) == [STALE]  # does not unpack
    assert texts(await member.press("rsvp:999:going")) == [REFUSED]  # no such event
    assert texts(await person(STRANGER).press(f"rsvp:{event.id}:going")) == [REFUSED]
    assert await session.scalar(select(func.count()).select_from(EventRsvp)) == 0


# ------------------------------------------------------------------- /newevent


async def test_coordinator_creates_an_event_and_members_get_it(
    session, person, saida, bot, outbox
):
    coordinator = person(COORDINATOR)
    out = await coordinator.send("/newevent")
    assert "New event for <b>Saida Network</b>" in texts(out)[0]
    assert data_of(out) == ["nev:kind:meeting", "nev:kind:training", "nev:kind:workshop"]
    out = await coordinator.tap("Training")
    assert "What is its title?" in texts(out)[0]
    out = await coordinator.send("x" * 101)
    assert texts(out) == ["That is 101 characters; please keep it to 100."]
    out = await coordinator.send("First aid <basics>")
    assert "When does it start?" in texts(out)[0] and "Lebanon Time" in texts(out)[0]
    assert len([d for d in data_of(out) if d.startswith("nev:day:")]) == 8
    # Refused starts; the dialog goes on after each.
    out = await coordinator.send("next tuesday")
    assert texts(out)[0].startswith("Please type the date and time as YYYY-MM-DD HH:MM")
    out = await coordinator.send(local(-1, 10))
    assert texts(out) == ["This time has already passed. Please choose a time in the future."]
    skipped = next_skipped_time()
    out = await coordinator.send(skipped)
    assert texts(out)[0].startswith(f"{skipped} does not exist in Lebanon Time")
    start = local(3, 17)
    out = await coordinator.send(start)
    assert "How long will it last?" in texts(out)[0]
    assert "nev:len:120" in data_of(out)
    out = await coordinator.send("16:00")
    assert texts(out) == ["The end must be after the start. Please try again."]
    out = await coordinator.tap("2 hours")
    assert "Where?" in texts(out)[0]
    out = await coordinator.send("Town hall <A&B>")
    assert NewEventCb(step="skip").pack() in data_of(out)
    out = await coordinator.send("Bring <your> notes & a pen.")
    preview = texts(out)[0]
    assert "This is what 4 members will get" in preview
    assert "First aid &lt;basics&gt;" in preview and "Town hall &lt;A&amp;B&gt;" in preview
    assert "Bring &lt;your&gt; notes &amp; a pen." in preview
    assert "Reminders: 1 day and 1 hour before" in preview
    assert data_of(out) == ["nev:confirm:1", "nev:confirm:0"]
    assert await session.scalar(select(func.count()).select_from(Event)) == 0

    out = await coordinator.tap("📣 Announce")
    event = await stored_event(session)
    assert (event.title, event.place, event.kind) == ("First aid <basics>", "Town hall <A&B>",
                                                       "training")
    assert event.starts_at == events.parse_local_datetime(start, BEIRUT)
    assert event.ends_at - event.starts_at == timedelta(hours=2)
    # The coordinator got the calendar file (the upload), then its RSVP buttons.
    (upload,) = [r for r in out if isinstance(r, SendDocument)]
    assert upload.chat_id == COORDINATOR and "First aid &lt;basics&gt;" in upload.caption
    cal = icalendar.Calendar.from_ical(upload.document.data)  # type: ignore[union-attr]
    (vevent,) = cal.walk("VEVENT")
    assert str(vevent["UID"]) == event.uid and int(vevent["SEQUENCE"]) == 0
    assert vevent["DTSTART"].params["TZID"] == "Asia/Beirut"
    assert vevent.decoded("DTSTART").astimezone(UTC) == event.starts_at
    (edit,) = [r for r in out if isinstance(r, EditMessageReplyMarkup)]
    assert [b.callback_data for b in edit.reply_markup.inline_keyboard[0]] == [
        f"rsvp:{event.id}:going", f"rsvp:{event.id}:maybe", f"rsvp:{event.id}:no"
    ]
    assert "📣 Announced to 4 members.\nReminders: 1 day and 1 hour before." in texts(out)
    # Reminders planned, and the members get the announcement through the outbox.
    assert [r.offset_minutes for r in await repo.reminder_rows(session, event.id)] == [1440, 60]
    await outbox.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendDocument)]
    assert sorted(r.chat_id for r in sent) == sorted(m[0] for m in MEMBERS[1:])
    assert {r.document for r in sent} == {event.ics_file_id} == {"doc1"}
    by_chat = {r.chat_id: r for r in sent}
    day = event.starts_at.astimezone(BEIRUT).date()
    assert format_date(day, "full", locale="fr") in by_chat[MAYBE].caption  # Omar's French
    assert format_date(day, "full", locale="en") in by_chat[GOING].caption
    assert [b.callback_data for b in by_chat[GOING].reply_markup.inline_keyboard[0]] == [
        f"rsvp:{event.id}:going", f"rsvp:{event.id}:maybe", f"rsvp:{event.id}:no"
    ]


async def test_quick_buttons_and_discard(session, person, saida):
    coordinator = person(COORDINATOR)
    await coordinator.send("/newevent")
    await coordinator.tap("Meeting")
    out = await coordinator.send("Monthly meeting")
    out = await coordinator.tap("Tomorrow")
    assert "At what time on" in texts(out)[0]
    assert "nev:hour:1700" in data_of(out)
    out = await coordinator.send("25:99")
    assert texts(out) == ["Please type the time as HH:MM, for example 17:00."]
    out = await coordinator.tap("17:00")
    assert "How long will it last?" in texts(out)[0]
    await coordinator.tap("1 hour 30 minutes")
    await coordinator.send("Municipality")
    out = await coordinator.tap("No description")
    assert "This is what 4 members will get" in texts(out)[0]
    out = await coordinator.tap("Discard")
    assert texts(out) == ["Discarded. No event was made."]
    assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def test_unexpected_messages_and_cancel_inside_the_dialog(session, person, saida):
    coordinator = person(COORDINATOR)
    await coordinator.send("/newevent")
    await coordinator.tap("Meeting")
    photo = [PhotoSize(file_id="p", file_unique_id="u", width=1, height=1)]
    out = await coordinator.send_media(photo=photo)
    assert "Please answer with text or the buttons above" in texts(out)[0]
    out = await coordinator.send("/cancel")
    assert texts(out) == ["Cancelled. Nothing was changed."]
    out = await coordinator.send("Monthly meeting")  # no longer in the dialog
    assert texts(out) == ["Send /help to see what I can do."]


async def test_admin_picks_the_network(session, person, saida, irbid):
    admin = person(ADMIN_ID)
    out = await admin.send("/newevent")
    assert {f"net:newevent:{saida.id}", f"net:newevent:{irbid.id}"} <= set(data_of(out))
    out = await admin.tap("Irbid Network")
    assert "New event for <b>Irbid Network</b>" in texts(out)[0]
    await admin.tap("Workshop")
    out = await admin.send("Youth workshop")
    assert "Jordan Time" in texts(out)[0]
