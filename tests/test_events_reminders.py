"""Reminders with a controlled clock: the right instants across DST, the right people,
nothing lost or sent twice across crashes and restarts, due-while-down, re-planning, and
two claimers on one database (SQLite here; PostgreSQL with tests/pg.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import SendDocument, SendMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import AppContext
from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.scheduler import create_scheduler
from bot.services import events
from bot.services.access import Actor
from bot.services.events import Draft
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Network, SendJob
from storage.models.events import Event, EventReminder
from storage.repositories import events as repo
from storage.repositories import memberships, users
from tests.helpers import make_network
from tests.mocked_bot import MockedBot
from tests.pg import fresh_database

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
COORDINATOR, GOING, MAYBE, DECLINED, SILENT = 100, 101, 102, 103, 104
MEMBERS = (
    (COORDINATOR, "Hana", "en", "coordinator"),
    (GOING, "Rana", "en", "member"),
    (MAYBE, "Omar", "fr", "member"),
    (DECLINED, "Sami", "en", "member"),
    (SILENT, "Lina", "ar", "member"),
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def i18n():  # type: ignore[no-untyped-def]
    return create_i18n("en")


@pytest.fixture
async def outbox(bot, session_pool):  # type: ignore[no-untyped-def]
    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    yield engine
    await engine.stop()


async def add_people(
    session: AsyncSession, network: Network, specs: Any = MEMBERS, now: datetime = NOW
) -> None:
    for tg_id, name, language, role in specs:
        user = await users.get_or_create(session, tg_id)
        user.display_name, user.language = name, language
        await memberships.add(
            session, user=user, network_id=network.id, role=role, status="active",
            sector="teacher", invite_id=None, now=now,
        )
    await session.commit()


async def actor(session: AsyncSession, tg_id: int, admins: frozenset[int] = frozenset()) -> Actor:
    return Actor.build(tg_id, await users.get_by_tg_id(session, tg_id), admins)


async def new_event(
    session: AsyncSession,
    bot: MockedBot,
    outbox: DeliveryEngine,
    i18n: Any,
    network: Network,
    typed_start: str,
    *,
    now: datetime = NOW,
    hours: int = 2,
) -> Event:
    starts_at = events.parse_start(typed_start, events.zone(network), now)
    draft = Draft(
        network_id=network.id, kind="training", title="First aid", place="Town hall",
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
    )
    coordinator = await actor(session, COORDINATOR)
    with i18n.context(), i18n.use_locale("en"):
        published = await events.create_event(
            session, bot, outbox, i18n, coordinator, draft, chat_id=COORDINATOR, now=now
        )
    return published.event


async def answer(session: AsyncSession, event: Event, tg_id: int, value: str) -> None:
    await events.set_rsvp(session, await actor(session, tg_id), event.id, value, NOW)


async def run(
    pool: async_sessionmaker[AsyncSession],
    outbox: DeliveryEngine,
    i18n: Any,
    now: datetime,
    worker: str = "w1",
) -> events.ReminderRun:
    result = await events.send_due_reminders(pool, outbox, i18n, now=now, worker_id=worker)
    await outbox.run_until_idle()
    return result


def plain(text: str) -> str:
    """Babel's no-break spaces as ordinary ones."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def reminders(bot: MockedBot) -> list[Any]:
    return [
        r for r in bot.take_requests()
        if isinstance(r, SendMessage) and r.text.startswith("⏰")  # in every language
    ]


async def rows(session: AsyncSession, event: Event) -> list[EventReminder]:
    return list(await repo.reminder_rows(session, event.id))


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


# --------------------------------------------------------- crashes and restarts


async def _crash_after_first_group(monkeypatch, outbox):  # type: ignore[no-untyped-def]
    real = outbox.enqueue
    calls = Counter[str]()

    async def dies_on_second_job(session, **kwargs):  # type: ignore[no-untyped-def]
        calls["enqueue"] += 1
        if calls["enqueue"] == 2:
            raise RuntimeError("the process was killed here")
        return await real(session, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", dies_on_second_job)
    return real


@pytest.mark.parametrize("same_worker", [False, True])
async def test_restart_in_the_middle_loses_nothing_and_sends_nothing_twice(
    session, session_pool, bot, outbox, i18n, monkeypatch, caplog, same_worker
):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    await answer(session, event, GOING, "going")
    await answer(session, event, MAYBE, "maybe")
    await outbox.run_until_idle()
    bot.take_requests()
    due = event.starts_at - timedelta(hours=1)

    real = await _crash_after_first_group(monkeypatch, outbox)
    crashed = await run(session_pool, outbox, i18n, due, worker="w1")
    assert crashed.sent == [] and "will be retried" in caplog.text
    first = reminders(bot)
    assert [r.chat_id for r in first] == [GOING]  # the first group was queued and sent
    (row,) = [r for r in await rows(session, event) if r.offset_minutes == 60]
    assert row.status == "claimed" and set(row.jobs or {}) == {"going"}
    monkeypatch.setattr(outbox, "enqueue", real)

    if same_worker:
        # The process comes back with the same worker id: its claims are released at once.
        assert await events.release_own_claims(session_pool, "w1") == 1
        later = due + timedelta(seconds=10)
    else:
        # Another process: the claim holds until its lease runs out, then it is taken over.
        assert (await run(session_pool, outbox, i18n, due + timedelta(seconds=30), "w2")).sent == []
        later = due + events.LEASE + timedelta(seconds=1)
    resumed = await run(session_pool, outbox, i18n, later, worker="w2")
    assert len(resumed.sent) == 1
    second = reminders(bot)
    assert sorted(r.chat_id for r in second) == sorted([COORDINATOR, MAYBE, SILENT, DECLINED])
    # Over both runs: each person exactly once.
    assert Counter(r.chat_id for r in first + second) == Counter(
        {COORDINATOR: 1, GOING: 1, MAYBE: 1, SILENT: 1, DECLINED: 1}
    )
    await session.refresh(row)
    assert row.status == "sent" and set(row.jobs or {}) == {"going", "maybe", "open"}
    # The worker that lost its claim can no longer record anything on the row.
    assert not await repo.advance(session, row.id, "w1", later, status="skipped")


async def test_claimed_then_killed_before_queueing_is_sent_once_after_the_lease(
    session, session_pool, bot, outbox, i18n
):
    network = await make_network(session)
    await add_people(session, network)
    event = await new_event(session, bot, outbox, i18n, network, "2026-03-25 17:00")
    await outbox.run_until_idle()
    bot.take_requests()
    due = event.starts_at - timedelta(days=1)
    async with session_pool() as s:  # a process claims the row, then dies
        claimed = await events.claim_due_reminders(s, now=due, worker_id="dead")
    assert len(claimed) == 1
    assert (await run(session_pool, outbox, i18n, due + timedelta(seconds=5))).claimed == 0
    assert reminders(bot) == []
    taken = await run(session_pool, outbox, i18n, due + events.LEASE + timedelta(seconds=1))
    assert len(taken.sent) == 1 and len(reminders(bot)) == len(MEMBERS)
    assert (await run(session_pool, outbox, i18n, due + timedelta(minutes=10))).claimed == 0


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


# ------------------------------------------------------------------- scheduler


async def test_setup_jobs_registers_the_sender_and_a_timer_for_the_next_row(
    session, session_pool, bot, outbox, i18n, settings
):
    network = await make_network(session)
    await add_people(session, network)
    now = datetime.now(UTC)
    event = await new_event(
        session, bot, outbox, i18n, network,
        (now + timedelta(hours=3)).astimezone(events.zone(network)).strftime("%Y-%m-%d %H:%M"),
        now=now,
    )
    await repo.add_reminders(
        session, event.id, 0, [(7, now - timedelta(seconds=1)), (8, now + timedelta(seconds=2))]
    )
    await session.commit()
    await outbox.run_until_idle()
    bot.take_requests()
    scheduler = create_scheduler()
    ctx = AppContext(bot=bot, session_pool=session_pool, settings=settings, i18n=i18n,
                     scheduler=scheduler, delivery=outbox)
    events.setup_jobs(ctx)
    job = scheduler.get_job(events.JOB_ID)
    assert job is not None and job.trigger.interval == timedelta(seconds=events.TICK_SECONDS)
    await job.func()  # what the scheduler runs every 5 s
    await outbox.run_until_idle()
    assert len(reminders(bot)) == len(MEMBERS)
    timer = scheduler.get_job(events.NEXT_JOB_ID)
    assert timer is not None
    assert abs(timer.trigger.run_date - (now + timedelta(seconds=2))) < timedelta(seconds=1)


# ------------------------------------------------------------- two claimers


async def _many_due_reminders(pool: async_sessionmaker[AsyncSession], count: int) -> datetime:
    async with pool() as session:
        network = await make_network(session)
        await add_people(session, network)
        start = utc(2026, 3, 25, 15, 0)
        for n in range(count):
            event = await repo.create(
                session, network_id=network.id, uid=f"e{n}@test", kind="meeting",
                title=f"Meeting {n}", place="Hall", starts_at=start, ends_at=start
                + timedelta(hours=1), status="scheduled", sequence=0, created_at=NOW,
                updated_at=NOW,
            )
            await repo.add_reminders(session, event.id, 0, [(60, start - timedelta(hours=1))])
        await session.commit()
    return start - timedelta(hours=1)


async def _two_claimers(url: str, count: int = 24) -> None:
    engines = [create_engine(url) for _ in range(2)]
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        due = await _many_due_reminders(pools[0], count)
        bot = MockedBot()
        i18n = create_i18n("en")
        outboxes = [DeliveryEngine(bot, p, rate=1000, per_chat_interval=0) for p in pools]

        async def worker(n: int) -> list[int]:
            done: list[int] = []
            while True:
                result = await events.send_due_reminders(
                    pools[n], outboxes[n], i18n, now=due, worker_id=f"w{n}", limit=3
                )
                done += result.sent
                if not result.claimed:
                    return done

        first, second = await asyncio.gather(worker(0), worker(1))
        assert not set(first) & set(second)
        assert len(first) + len(second) == count
        async with pools[0]() as session:
            statuses = Counter((await session.scalars(select(EventReminder.status))).all())
            jobs = await session.scalar(
                select(func.count()).select_from(SendJob).where(SendJob.kind == "reminder")
            )
        assert statuses == Counter({"sent": count}) and jobs == count
    finally:
        for engine in engines:
            await engine.dispose()


async def test_two_claimers_on_sqlite_send_each_reminder_once(tmp_path):
    await _two_claimers(f"sqlite+aiosqlite:///{tmp_path / 'two.db'}")


@pytest.mark.postgres
async def test_two_claimers_on_postgres_send_each_reminder_once():
    async with fresh_database() as url:
        await _two_claimers(url)
