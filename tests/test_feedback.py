"""Training feedback (bot/services/feedback/, handlers/feedback.py): asked once, after the
end of a training or workshop, those marked present (or who said "going" when nobody was
marked), never for a meeting nor a member who left; one reminder the next day at 10:00
local time and none after (a controlled clock); the three questions answered through the
dispatcher; the figures with known data; the exports opened; another network refused."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from datetime import timedelta
from html import escape

import openpyxl
import pytest
from aiogram.methods import SendDocument, SendMessage
from sqlalchemy import select

from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.services import events, feedback, registration
from bot.services.retention import purge
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import AuditEntry, EventFeedback
from storage.repositories import events as events_repo
from storage.repositories import feedback as repo
from storage.repositories import memberships, users
from tests import events_dialog
from tests.events_dialog import OTHER_COORDINATOR, REFUSED, STALE
from tests.events_helpers import (
    COORDINATOR,
    DECLINED,
    GOING,
    MAYBE,
    NOW,
    SILENT,
    actor,
    add_people,
    answer,
    new_event,
    utc,
)
from tests.helpers import make_network
from tests.mocked_bot import MockedBot
from tests.people import buttons, texts
from tests.pg import fresh_database

outbox, saida, irbid = events_dialog.outbox, events_dialog.saida, events_dialog.irbid
LEFT = 105
NOT_ASKED = "This question is not for you: only those who took part are asked."
ANSWERED = "You have already answered this question. Thank you!"
# 2026-03-25 17:00-19:00 in Beirut (UTC+2 before the 29th): ends at 17:00Z.
START = "2026-03-25 17:00"
END = utc(2026, 3, 25, 17, 0)
REMIND = utc(2026, 3, 26, 8, 0)  # 10:00 in Beirut the next day


@pytest.fixture
def i18n(dp):  # type: ignore[no-untyped-def]
    return dp["i18n"]


def questions(bot) -> dict[int, SendMessage]:  # type: ignore[no-untyped-def]
    return {
        r.chat_id: r for r in bot.take_requests()
        if isinstance(r, SendMessage) and r.text.startswith("📝")
    }


async def tick(pool, outbox, i18n, now):  # type: ignore[no-untyped-def]
    run = await feedback.tick(pool, outbox, i18n, now=now)
    await outbox.run_until_idle()
    return run


async def test_asked_once_the_right_people_then_one_reminder_next_day(
    session, session_pool, bot, outbox, saida, i18n, person
):
    user = await users.get_or_create(session, LEFT)
    user.display_name = "Adel"
    await memberships.add(session, user=user, network_id=saida.id, role="member",
                          status="active", sector="ngo", invite_id=None, now=NOW)
    await session.commit()
    training = await new_event(session, bot, outbox, i18n, saida, START)
    meeting = await new_event(session, bot, outbox, i18n, saida, START)
    meeting.kind = "meeting"
    await session.commit()
    for event in (training, meeting):
        await answer(session, event, GOING, "going")
        await answer(session, event, MAYBE, "maybe")
        await answer(session, event, DECLINED, "no")
        await answer(session, event, LEFT, "going")
    await registration.leave(session, await actor(session, LEFT), saida.id)  # left: not asked
    await outbox.run_until_idle()
    bot.take_requests()

    assert (await tick(session_pool, outbox, i18n, END - timedelta(seconds=1))).asked == {}
    assert questions(bot) == {}
    run = await tick(session_pool, outbox, i18n, END)
    assert run.asked == {training.id: 1}  # attendance not marked: those who said "going"
    sent = questions(bot)
    assert set(sent) == {GOING}
    assert "First aid" in sent[GOING].text and "How useful" in sent[GOING].text
    row = sent[GOING].reply_markup.inline_keyboard[0]
    assert [(b.text, b.callback_data) for b in row] == [
        (str(n), f"fbr:{training.id}:{n}") for n in range(1, 6)
    ]
    # Later ticks (and a second worker's) ask nobody again.
    assert (await tick(session_pool, outbox, i18n, END + timedelta(minutes=1))).asked == {}
    assert questions(bot) == {}

    # The one reminder: the next day at 10:00 in Beirut, then never again.
    assert (await tick(session_pool, outbox, i18n, REMIND - timedelta(seconds=1))).reminded == {}
    assert (await tick(session_pool, outbox, i18n, REMIND)).reminded == {training.id: 1}
    again = questions(bot)
    assert set(again) == {GOING} and again[GOING].text.startswith("📝 A reminder")
    for later in (timedelta(minutes=5), timedelta(days=1), timedelta(days=2)):
        assert (await tick(session_pool, outbox, i18n, REMIND + later)).reminded == {}
    assert questions(bot) == {}

    # Answers after the reminder are still taken.
    out = await person(GOING).tap("5")
    assert "Thank you!" in texts(out)
    (stored,) = (await session.scalars(
        select(EventFeedback).execution_options(populate_existing=True)
    )).all()
    assert (stored.usefulness, stored.reminded_at, stored.asked_at) == (5, REMIND, END)


async def test_two_workers_at_once_ask_each_person_once(
    session, session_pool, bot, outbox, saida, i18n
):
    event = await new_event(session, bot, outbox, i18n, saida, START)
    for tg_id in (GOING, MAYBE, SILENT):
        await answer(session, event, tg_id, "going")
    await outbox.run_until_idle()
    bot.take_requests()
    other = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    try:
        runs = await asyncio.gather(
            feedback.ask_due(session_pool, outbox, i18n, now=END),
            feedback.ask_due(session_pool, other, i18n, now=END),
        )
        await outbox.run_until_idle()
        await other.run_until_idle()
    finally:
        await other.stop()
    assert sorted(sum(r.asked.values()) for r in runs) == [0, 3]
    sent = [r.chat_id for r in bot.take_requests()
            if isinstance(r, SendMessage) and r.text.startswith("📝")]
    assert sorted(sent) == sorted([GOING, MAYBE, SILENT])  # once each
    rows = (await session.scalars(select(EventFeedback))).all()
    assert len(rows) == 3


async def test_attended_are_asked_when_attendance_was_marked(
    session, session_pool, bot, outbox, saida, i18n
):
    event = await new_event(session, bot, outbox, i18n, saida, START)
    await answer(session, event, GOING, "going")
    coordinator = await actor(session, COORDINATOR)
    for tg_id in (MAYBE, SILENT):
        member = await users.get_by_tg_id(session, tg_id)
        assert member is not None
        await events.toggle_attendance(session, coordinator, event.id, member.id, END)
    await outbox.run_until_idle()
    bot.take_requests()
    await tick(session_pool, outbox, i18n, END + timedelta(minutes=3))
    sent = questions(bot)
    assert set(sent) == {MAYBE, SILENT}  # not GOING: attendance was marked without them
    assert "Merci" in sent[MAYBE].text  # each in their language
    digits = [b.text for b in sent[SILENT].reply_markup.inline_keyboard[0]]
    assert digits == list("12345")  # as fmt_number writes them in Arabic too


async def test_answering_the_three_questions(session, session_pool, bot, outbox, saida, irbid,
                                             i18n, person):
    event = await new_event(session, bot, outbox, i18n, saida, START)
    await answer(session, event, GOING, "going")
    await tick(session_pool, outbox, i18n, END)
    bot.take_requests()
    member = person(GOING)

    out = await member.tap("4")
    assert texts(out)[0] == "Thank you!"
    assert any("your answer is 4 of 5" in t for t in texts(out))
    assert any("What will you apply" in t for t in texts(out))
    assert ("Skip", f"fbs:{event.id}:apply") in buttons(out)
    # A second press, and others' forged presses, are refused.
    assert texts(await member.press(f"fbr:{event.id}:2")) == [ANSWERED]
    assert texts(await person(DECLINED).press(f"fbr:{event.id}:5")) == [NOT_ASKED]
    assert texts(await person(OTHER_COORDINATOR).press(f"fbr:{event.id}:5")) == [NOT_ASKED]
    assert texts(await member.press(f"fbs:{event.id}:missing")) == [ANSWERED]

    out = await member.send("Role plays with <parents>")
    assert any("What was missing" in t for t in texts(out))
    out = await member.tap("Skip")
    assert texts(out)[-1] == "Thank you! Your answers help plan the next trainings."
    assert texts(await member.press(f"fbs:{event.id}:missing")) == [ANSWERED]
    row = await repo.get_own(session, event.id, (await users.get_by_tg_id(session, GOING)).id)
    assert row is not None
    assert (row.usefulness, row.apply_text, row.missing_text) == (
        4, "Role plays with <parents>", ""
    )
    assert (await member.send("More text")) and row.missing_text == ""  # the dialog is over

    out = await member.send("/mydata")
    (doc,) = [r for r in out if isinstance(r, SendDocument)]
    mine = json.loads(doc.document.data)["training_feedback"]  # type: ignore[union-attr]
    assert [(f["event"], f["usefulness"], f["will_apply"], f["was_missing"]) for f in mine] == [
        ("First aid", 4, "Role plays with <parents>", None)
    ]


RATINGS = [5, 5, 5, 4, 4, 4, 4, 4, 4]  # 9 of 11 answer: average 39 / 9 = 4.33


async def _answered_workshop(session, bot, outbox, i18n, network):  # type: ignore[no-untyped-def]
    event = await new_event(session, bot, outbox, i18n, network, START)
    event.kind = "workshop"
    ids = []
    for n in range(11):
        user = await users.get_or_create(session, 500 + n)
        user.display_name = f"Member{n}"
        await memberships.add(session, user=user, network_id=network.id, role="member",
                              status="active", sector="ngo", invite_id=None, now=NOW)
        ids.append(user.id)
    await repo.add_asked(session, event.id, ids, END)
    for user_id, n in zip(ids, RATINGS, strict=False):
        assert await repo.rate(session, event.id, user_id, n, END + timedelta(hours=1))
    row = await repo.get_own(session, event.id, ids[0])
    assert row is not None
    await repo.set_text(session, row.id, "missing_text", "=More time for questions")
    await repo.set_text(session, row.id, "apply_text", "Listening circles")
    await session.commit()
    return event


async def test_figures_with_known_data_and_the_exports(
    session, bot, outbox, saida, irbid, i18n, person
):
    event = await _answered_workshop(session, bot, outbox, i18n, saida)
    coordinator = person(COORDINATOR)
    out = await coordinator.press(f"fbv:{event.id}")
    text = texts(out)[-1]
    assert "9 of 11 asked answered, average 4.3 of 5." in text
    assert "5 ★★★★★: 3\n4 ★★★★: 6\n3 ★★★: 0\n2 ★★: 0\n1 ★: 0" in text
    assert "• =More time for questions" in text and "• Listening circles" in text
    assert "Member" not in text  # no names
    audit = (await session.scalars(select(AuditEntry.action))).all()
    assert "feedback_view" in audit
    # The event's own screen leads there.
    out = await coordinator.press(f"ev:show:{event.id}")
    assert ("📝 Feedback", f"fbv:{event.id}") in buttons(out)

    out = await coordinator.press(f"fbx:{event.id}")
    docs = {r.document.filename: r.document.data for r in out  # type: ignore[union-attr]
            if isinstance(r, SendDocument)}
    assert set(docs) == {f"feedback-saida-event-{event.id}.csv",
                         f"feedback-saida-event-{event.id}.xlsx"}
    sheet = openpyxl.load_workbook(io.BytesIO(docs[f"feedback-saida-event-{event.id}.xlsx"])).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Network", "Event", "Kind", "Date", "Usefulness (1-5)")
    assert len(rows) == 12 and sorted(r[4] for r in rows[1:] if r[4]) == sorted(RATINGS)
    assert rows[1][5:7] == ("Listening circles", "'=More time for questions")  # no formula
    assert {r[2] for r in rows[1:]} == {"Workshop"}
    data = docs[f"feedback-saida-event-{event.id}.csv"].decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(data)))
    assert len(parsed) == 12 and "Member" not in data
    assert (await session.scalars(select(AuditEntry.action))).all().count("feedback_export") == 1

    # Admins: per training kind and month, across networks.
    admin = await actor(session, 1, frozenset({1}))
    overview = await feedback.overview(session, admin, END + timedelta(days=3))
    (month,) = overview.months
    assert (month.month.isoformat(), month.kind, month.events) == ("2026-03-01", "workshop", 1)
    assert (month.summary.asked, month.summary.answered) == (11, 9)
    assert month.summary.average == pytest.approx(39 / 9)
    assert month.summary.counts == {1: 0, 2: 0, 3: 0, 4: 6, 5: 3}
    with i18n.context(), i18n.use_locale("en"):
        text = feedback.overview_text(overview, "en")
    assert "March 2026, Workshop: 1 event(s), 9 of 11 asked answered, average 4.3 of 5." in text

    # Another network's coordinator, and a member, cannot see it.
    assert texts(await person(OTHER_COORDINATOR).press(f"fbv:{event.id}")) == [REFUSED]
    assert texts(await person(OTHER_COORDINATOR).press(f"fbx:{event.id}")) == [REFUSED]
    assert texts(await person(GOING).press(f"fbv:{event.id}")) == [STALE]
    out = await person(OTHER_COORDINATOR).send("/feedback")
    assert "No feedback yet" in texts(out)[0]
    out = await coordinator.send("/feedback")
    assert "9 of 11 asked answered" in texts(out)[0]
    out = await person(OTHER_COORDINATOR).press("fbx:0")
    assert all("Member" not in r.document.data.decode("utf-8-sig", "ignore")  # type: ignore[union-attr]
               for r in out if isinstance(r, SendDocument) and r.document.filename.endswith("csv"))


async def test_leave_anonymises_and_retention_purges_the_texts(
    session, session_pool, bot, outbox, saida, i18n, settings
):
    event = await _answered_workshop(session, bot, outbox, i18n, saida)
    first = await users.get_by_tg_id(session, 500)
    assert first is not None
    await registration.leave(session, await actor(session, 500), saida.id)
    rows = (await session.scalars(
        select(EventFeedback).order_by(EventFeedback.id).execution_options(populate_existing=True)
    )).all()
    assert rows[0].user_id is None and rows[0].usefulness == 5  # anonymous, still counted
    assert rows[0].apply_text == "Listening circles"  # like a report's text, kept until purged
    outcome = await purge(session_pool, settings.model_copy(
        update={"retain_report_text_days": 30}), END + timedelta(days=31), trigger="test")
    assert outcome.counts()["feedback_texts"] == 1
    async with session_pool() as s:
        kept = (await s.scalars(select(EventFeedback).order_by(EventFeedback.id))).all()
    assert (kept[0].apply_text, kept[0].missing_text) == (None, None)
    assert [r.usefulness for r in kept][:9] == RATINGS
    assert event.id == kept[0].event_id


# ---------------------------------------- two processes on one database (each engine its own)


async def _two_askers(url: str, count: int = 6) -> None:
    engines = [create_engine(url) for _ in range(2)]
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        async with pools[0]() as session:
            network = await make_network(session)
            await add_people(session, network)
            people = await events_repo.people(session, 0, network.id)
            start = END - timedelta(hours=2)
            for n in range(count):
                event = await events_repo.create(
                    session, network_id=network.id, uid=f"t{n}@test", kind="training",
                    title=f"Training {n}", place="Hall", starts_at=start, ends_at=END,
                    status="scheduled", sequence=0, created_at=NOW, updated_at=NOW,
                )
                for p in people:
                    await events_repo.set_answer(session, event.id, p.user_id, "going", NOW)
            await session.commit()
        bot = MockedBot()
        i18n = create_i18n("en")
        outboxes = [DeliveryEngine(bot, p, rate=1000, per_chat_interval=0) for p in pools]
        try:
            for now in (END, REMIND):  # the questions, then the reminders
                await asyncio.gather(*(feedback.tick(pools[n], outboxes[n], i18n, now=now)
                                       for n in range(2)))
            for outbox in outboxes:
                await outbox.run_until_idle()
        finally:
            for outbox in outboxes:
                await outbox.stop()
        sent = Counter(r.chat_id for r in bot.take_requests() if isinstance(r, SendMessage))
        assert sent == {p.tg_id: 2 * count for p in people}  # a question, a reminder, once
        async with pools[0]() as session:
            rows = (await session.scalars(select(EventFeedback))).all()
        assert len(rows) == count * len(people) and all(r.reminded_at == REMIND for r in rows)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_two_processes_on_sqlite_ask_and_remind_each_person_once(tmp_path):
    await _two_askers(f"sqlite+aiosqlite:///{tmp_path / 'two.db'}")


@pytest.mark.postgres
async def test_two_processes_on_postgres_ask_and_remind_each_person_once():
    async with fresh_database() as url:
        await _two_askers(url)


async def test_a_skip_on_an_older_question_leaves_a_report_under_way(
    session, session_pool, bot, outbox, saida, i18n, person
):
    """The last Skip ends the feedback, not the /report dialog started since."""
    event = await new_event(session, bot, outbox, i18n, saida, START)
    await answer(session, event, GOING, "going")
    await tick(session_pool, outbox, i18n, END)
    bot.take_requests()
    member = person(GOING)
    await member.tap("4")
    out = await member.send("Listening circles")
    assert any("What was missing" in t for t in texts(out))
    out = await member.send("/report")
    assert any("What kind of activity" in t for t in texts(out))
    out = await member.press(f"fbs:{event.id}:missing")
    assert texts(out)[-1] == "Thank you! Your answers help plan the next trainings."
    out = await member.tap("Workshop")
    assert any("When did it take place?" in t for t in texts(out))  # the report goes on


async def test_a_skip_during_another_dialog_asks_the_next_question_below(
    session, session_pool, bot, outbox, saida, i18n, person
):
    event = await new_event(session, bot, outbox, i18n, saida, START)
    await answer(session, event, GOING, "going")
    await tick(session_pool, outbox, i18n, END)
    bot.take_requests()
    member = person(GOING)
    await member.tap("4")
    await member.send("/report")
    out = await member.press(f"fbs:{event.id}:apply")
    (asked,) = [r for r in out if isinstance(r, SendMessage)]  # a new message, not an edit
    assert "What was missing" in asked.text
    await member.send("More role plays")
    row = await repo.get_own(session, event.id, (await users.get_by_tg_id(session, GOING)).id)
    assert row is not None and (row.apply_text, row.missing_text) == ("", "More role plays")


def test_long_answers_are_cut_at_whole_lines_and_both_lists_stay(i18n):
    """Eleven long answers of each kind pass Telegram's 4,096: each list is cut at a whole
    answer (never inside "&amp;" or a tag) and the second list is still there."""
    from types import SimpleNamespace

    from bot.text.formats import utf16_len

    event = SimpleNamespace(
        title="First aid", kind="training", ends_at=END, starts_at=END - timedelta(hours=2),
        network=SimpleNamespace(timezone="Asia/Beirut"),
    )
    apply = [f"{n} " + "role plays & <games> " * 23 for n in range(11)]
    missing = [f"{n} " + "more time & space " * 27 for n in range(11)]
    with i18n.context(), i18n.use_locale("en"):
        text = feedback.results_text(event, 11, 11, 4.0, {4: 11}, apply, missing, "en",  # type: ignore[arg-type]
                                     now=END + timedelta(days=1))
    assert utf16_len(text) <= 4096
    lines = text.split("\n")
    assert "<b>What they will apply</b>" in lines and "<b>What was missing</b>" in lines
    assert lines[-1] == "Answers are shown without names."
    whole = {f"• {escape(t)}" for t in apply + missing}
    bullets = [line for line in lines if line.startswith("• ")]
    assert len(bullets) >= 4 and all(line in whole for line in bullets)


async def test_the_overview_in_arabic_has_no_latin_comma(session, bot, outbox, saida, i18n):
    await _answered_workshop(session, bot, outbox, i18n, saida)
    admin = await actor(session, 1, frozenset({1}))
    overview = await feedback.overview(session, admin, END + timedelta(days=3))
    with i18n.context(), i18n.use_locale("ar"):
        text = feedback.overview_text(overview, "ar")
    assert f"({saida.name}، " in text and f"({saida.name}, " not in text
