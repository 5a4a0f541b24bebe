"""Reminders with a controlled clock: the right instants across DST, the right people, the
announcement, due-while-down, re-planning on edit, cancel and new offsets. Crashes,
restarts, the scheduler and two claimers: test_events_reminders_claims.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.methods import SendDocument
from sqlalchemy import select

from bot.services import events
from storage.models import SendJob
from storage.models.events import EventReminder
from storage.repositories import events as repo
from tests import events_helpers
from tests.events_helpers import (
    COORDINATOR,
    DECLINED,
    GOING,
    MAYBE,
    MEMBERS,
    NOW,
    SILENT,
    actor,
    add_people,
    answer,
    new_event,
    plain,
    reminders,
    rows,
    run,
    utc,
)
from tests.helpers import make_network

# The fixtures of tests/events_helpers.py, bound here for pytest to find.
i18n, outbox = events_helpers.i18n, events_helpers.outbox


# ------------------------------------------------------------------- instants, DST


@pytest.mark.parametrize(
    ("typed", "day_before", "hour_before"),
    [
        # Spring forward (2026-03-29 00:00 -> 01:00): the day-before reminder is at 10:00
        # EET (08:00Z), 23 hours before the start at 10:00 EEST (07:00Z).
        ("2026-03-29 10:00", utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 6, 0)),
        # Fall back (2026-10-25 00:00 -> 23:00 the day before): 10:00 EEST is 07:00Z.
        ("2026-10-25 10:00", utc(2026, 10, 24, 7, 0), utc(2026, 10, 25, 7, 0)),
    ],
)
async def test_reminders_at_the_right_instants_across_dst(
    session, session_pool, bot, outbox, i18n, typed, day_before, hour_before
):
    network = await make_network(session, timezone="Asia/Beirut")
    await add_people(session, network)
    now = day_before - timedelta(days=5)
    event = await new_event(session, bot, outbox, i18n, network, typed, now=now)
    assert [(r.offset_minutes, r.due_at, r.status) for r in await rows(session, event)] == [
        (1440, day_before, "pending"),
        (60, hour_before, "pending"),
    ]
    await outbox.run_until_idle()
    bot.take_requests()  # the announcement

    one_second = timedelta(seconds=1)
    assert (await run(session_pool, outbox, i18n, day_before - one_second)).claimed == 0
    first = await run(session_pool, outbox, i18n, day_before)
    assert len(first.sent) == 1 and len(reminders(bot)) == len(MEMBERS)
    # The next tick a few seconds later finds nothing more to send.
    assert (await run(session_pool, outbox, i18n, day_before + 5 * one_second)).claimed == 0
    assert (await run(session_pool, outbox, i18n, hour_before - one_second)).claimed == 0
    second = await run(session_pool, outbox, i18n, hour_before)
    assert len(second.sent) == 1
    sent = reminders(bot)
    assert len(sent) == len(MEMBERS)
    assert all(
        any(words in plain(r.text) for words in ("in 1 hour", "1 heure", "ساعة")) for r in sent
    )
    assert [r.status for r in await rows(session, event)] == ["sent", "sent"]


async def test_reminder_goes_to_all_but_those_who_declined(
    session, session_pool, bot, outbox, i18n
):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    await answer(session, event, GOING, "going")
    await answer(session, event, MAYBE, "maybe")
    await answer(session, event, DECLINED, "going")
    await answer(session, event, DECLINED, "no")  # changed their mind
    await outbox.run_until_idle()
    bot.take_requests()
    due = event.starts_at - timedelta(hours=1)
    await run(session_pool, outbox, i18n, due)
    sent = {r.chat_id: r for r in reminders(bot)}
    assert set(sent) == {COORDINATOR, GOING, MAYBE, SILENT}
    # Going: a confirmation, no buttons; maybe and no answer yet: the RSVP buttons.
    assert sent[GOING].reply_markup is None and "See you there" in sent[GOING].text
    for chat in (MAYBE, SILENT, COORDINATOR):
        data = [b.callback_data for row in sent[chat].reply_markup.inline_keyboard for b in row]
        assert data == [f"rsvp:{event.id}:going", f"rsvp:{event.id}:maybe", f"rsvp:{event.id}:no"]
    assert "Peut-être" in sent[MAYBE].text  # MAYBE reads French: « Vous avez répondu … »
    # Each in their own language (Babel formats the date).
    assert "mars" in sent[MAYBE].text and "March" in sent[GOING].text
    assert "مارس" in sent[SILENT].text
    (row,) = [r for r in await rows(session, event) if r.offset_minutes == 60]
    assert row.status == "sent" and set(row.jobs or {}) == {"going", "maybe", "open"}
    assert all(job_id > 0 for job_id in (row.jobs or {}).values())


async def test_announcement_reaches_members_with_the_uploaded_calendar_file(
    session, bot, outbox, i18n
):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    upload = bot.take_requests()
    (mine,) = [r for r in upload if isinstance(r, SendDocument)]
    assert mine.chat_id == COORDINATOR and not isinstance(mine.document, str)
    assert event.ics_file_id == "doc1"
    await outbox.run_until_idle()
    sent = [r for r in bot.take_requests() if isinstance(r, SendDocument)]
    # Everyone but the coordinator who made it (they have their copy), by file_id.
    assert sorted(r.chat_id for r in sent) == [GOING, MAYBE, DECLINED, SILENT]
    assert all(r.document == "doc1" for r in sent)
    assert all(r.caption and "First aid" in r.caption for r in sent)
    job = await session.scalar(select(SendJob).where(SendJob.kind == "event"))
    assert job is not None and job.network_id == network.id and job.total == 4


# ------------------------------------------------------------- due while down


async def test_due_while_down_sent_late_if_not_started_else_skipped(
    session, session_pool, bot, outbox, i18n
):
    network = await make_network(session)
    await add_people(session, network)
    soon = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    past = await new_event(session, bot, outbox, i18n, network, "2026-03-25 11:00")
    await outbox.run_until_idle()
    bot.take_requests()
    # Down from before any reminder until 30 minutes before `soon` starts (16:30 Beirut,
    # 14:30Z), long after `past` started (11:00 Beirut).
    back = soon.starts_at - timedelta(minutes=30)
    result = await run(session_pool, outbox, i18n, back)
    assert result.claimed == 4
    sent = reminders(bot)
    # For `soon`, only the latest of its two due reminders goes out, late.
    assert len(sent) == len(MEMBERS) and all("starts in 30 minutes" in r.text for r in sent
                                              if r.chat_id == GOING)
    assert {r.offset_minutes: (r.status, r.note) for r in await rows(session, soon)} == {
        1440: ("skipped", "superseded"),
        60: ("sent", None),
    }
    assert {r.offset_minutes: (r.status, r.note) for r in await rows(session, past)} == {
        1440: ("skipped", "started"),
        60: ("skipped", "started"),
    }
    assert (await run(session_pool, outbox, i18n, back + timedelta(minutes=1))).claimed == 0


# ------------------------------------------------------------ edit, cancel, settings


async def test_edit_replans_and_cancel_stops_reminders(session, session_pool, bot, outbox, i18n):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    # The day-before reminder goes out; then the event moves two days later.
    day_before = event.starts_at - timedelta(days=1)
    await run(session_pool, outbox, i18n, day_before)
    bot.take_requests()
    coordinator = await actor(session, COORDINATOR)
    moved = events.parse_start("2026-03-27 18:00", events.zone(network), NOW)
    with i18n.context(), i18n.use_locale("en"):
        changed = await events.update_event(
            session, bot, outbox, i18n, coordinator, event.id, chat_id=COORDINATOR,
            now=day_before + timedelta(hours=1), starts_at=moved,
        )
    assert changed.event.sequence == 1 and changed.event.ends_at == moved + timedelta(hours=2)
    plan = [(r.plan, r.offset_minutes, r.status) for r in await rows(session, event)]
    assert plan == [(0, 1440, "sent"), (1, 1440, "pending"), (1, 60, "pending")]
    # A reminder claimed for the old plan (a sender that was mid-way) is skipped.
    async with session_pool() as s:
        await s.execute(
            EventReminder.__table__.insert().values(
                event_id=event.id, plan=0, offset_minutes=30, status="claimed",
                claimed_by="w1", claimed_at=day_before, due_at=day_before,
            )
        )
        await s.commit()
    result = await run(session_pool, outbox, i18n, day_before + timedelta(hours=2))
    assert list(result.skipped.values()) == ["replanned"] and reminders(bot) == []

    with i18n.context(), i18n.use_locale("en"):
        await events.cancel_event(
            session, bot, outbox, i18n, coordinator, event.id, chat_id=COORDINATOR,
            now=day_before + timedelta(hours=3),
        )
    statuses = [r.status for r in await rows(session, event)]
    assert "pending" not in statuses
    later = moved - timedelta(minutes=30)
    assert (await run(session_pool, outbox, i18n, later)).claimed == 0
    assert reminders(bot) == []


async def test_changing_the_offsets_replans_coming_events(session, session_pool, bot, outbox, i18n):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    coordinator = await actor(session, COORDINATOR)
    await events.set_reminder_offsets(session, coordinator, network.id, [180, 1], NOW)
    assert await repo.reminder_offsets(session, network.id) == [180, 1]
    due = {r.offset_minutes: r.due_at for r in await rows(session, event)}
    assert due == {180: event.starts_at - timedelta(hours=3),
                   1: event.starts_at - timedelta(minutes=1)}
    # Switching one off and on again does not resend what was sent.
    await run(session_pool, outbox, i18n, event.starts_at - timedelta(hours=3))
    assert len(reminders(bot)) == len(MEMBERS)
    await events.set_reminder_offsets(session, coordinator, network.id, [1], NOW)
    await events.set_reminder_offsets(session, coordinator, network.id, [180, 1], NOW)
    assert [(r.offset_minutes, r.status) for r in await rows(session, event)] == [
        (180, "sent"), (1, "pending")
    ]
    with pytest.raises(events.EventError):
        await events.set_reminder_offsets(session, coordinator, network.id, [0], NOW)
