"""Reminders with a controlled clock: nothing lost or sent twice across crashes and restarts,
the scheduler's jobs, and two claimers on one database (SQLite here; PostgreSQL with
tests/pg.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import AppContext
from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.scheduler import create_scheduler
from bot.services import events
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
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
    add_people,
    answer,
    new_event,
    reminders,
    rows,
    run,
    utc,
)
from tests.helpers import make_network
from tests.mocked_bot import MockedBot
from tests.pg import fresh_database

# The fixtures of tests/events_helpers.py, bound here for pytest to find.
i18n, outbox = events_helpers.i18n, events_helpers.outbox


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
