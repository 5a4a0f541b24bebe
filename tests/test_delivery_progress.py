"""The delivery engine against the fake Bot API: progress reports, scheduled and cancelled
jobs, interactive replies ahead of broadcasts, stopping, and rows left by a dead worker."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import JobProgress, default_worker_id
from bot.sandbox.telegram import FakeBotAPI
from storage.models import Delivery, SendJob, utcnow
from tests import delivery_helpers
from tests.delivery_helpers import ScriptedSession, enqueue, get_job, people, rows, until

# The fixtures of tests/delivery_helpers.py (a migrated SQLite database and its pool, the fake
# Bot API, a Bot on it, a DeliveryEngine factory), bound here for pytest to find.
db, pool, api, bot, make_engine = (
    delivery_helpers.db,
    delivery_helpers.pool,
    delivery_helpers.api,
    delivery_helpers.bot,
    delivery_helpers.make_engine,
)


# ------------------------------------------------------------------- progress, scheduling


async def test_progress_is_reported_then_once_at_the_end(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 60)
    api.set_blocked(recipients[0].chat_id)
    reports: list[JobProgress] = []

    async def on_progress(p: JobProgress) -> None:
        reports.append(p)

    engine = make_engine(rate=100, concurrency=4, progress_interval=0.1)
    engine.on_job_progress = on_progress
    job = await enqueue(engine, pool, recipients, progress=(1, 2))
    await engine.run_until_idle()
    assert len(reports) >= 3
    *running, last = reports
    assert not any(p.done for p in running)
    assert running[0].pending > 0
    assert [p.sent for p in running] == sorted(p.sent for p in running)
    assert last.done and last.job_id == job.id
    assert (last.total, last.sent, last.blocked, last.failed, last.pending) == (60, 59, 1, 0, 0)
    assert (last.progress_chat_id, last.progress_message_id, last.kind) == (1, 2, "broadcast")

    # The default interval (2 s) on a short job: only the final report.
    reports.clear()
    engine2 = make_engine(worker_id="w2")
    engine2.on_job_progress = on_progress
    await enqueue(engine2, pool, recipients[1:20])
    await engine2.run_until_idle()
    assert [p.done for p in reports] == [True]


async def test_a_later_job_waits_for_its_time_and_can_be_cancelled(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 3)
    engine = make_engine()
    later = await enqueue(engine, pool, recipients, due_at=utcnow() + timedelta(hours=1))
    soon_at = utcnow() + timedelta(seconds=0.3)
    soon = await enqueue(engine, pool, recipients, due_at=soon_at)
    await engine.start()
    try:
        for _ in range(500):
            if (await get_job(pool, soon.id)).status == "done":
                break
            await asyncio.sleep(0.01)
    finally:
        await engine.stop()
    sent = await rows(pool, soon.id)
    assert all(r.status == "sent" and r.sent_at and r.sent_at >= soon_at for r in sent)
    assert (await get_job(pool, later.id)).status == "scheduled"
    assert {r.status for r in await rows(pool, later.id)} == {"pending"}
    assert all(api.message_count(r.chat_id) == 1 for r in recipients)

    async with pool() as session:
        assert await engine.cancel(session, later.id)
        assert not await engine.cancel(session, later.id)
        assert not await engine.cancel(session, soon.id)  # already sent
    assert (await get_job(pool, later.id)).status == "cancelled"
    assert await rows(pool, later.id) == []


async def test_an_interactive_reply_does_not_wait_behind_a_broadcast(
    api: FakeBotAPI, bot: Bot, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 200)
    member = api.add_user(42)["id"]
    engine = make_engine(rate=20, concurrency=16)
    await enqueue(engine, pool, recipients)
    await engine.start()
    try:
        await until(lambda: api.stats()["total_sent"] >= 10)
        before = len(api.calls("sendMessage"))
        await bot.send_message(member, "your answer")  # a handler's reply: high priority
        calls = [c["params"]["chat_id"] for c in api.calls("sendMessage")]
        position = calls.index(str(member))
        # 16 bulk sends are queued in the limiter; the reply went at the next slot.
        assert position - before <= 2
    finally:
        await engine.stop()
    assert bot.session.middleware[:] == []  # stop() left the bot as start() found it


async def test_stop_releases_claims_and_another_worker_finishes_without_duplicates(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 150)
    first = make_engine(rate=100, concurrency=8)
    job = await enqueue(first, pool, recipients)
    await first.start()
    await until(lambda: api.stats()["total_sent"] >= 30)
    await first.stop()
    stored = await rows(pool, job.id)
    assert "sending" not in {r.status for r in stored}
    sent = [r for r in stored if r.status == "sent"]
    assert len(sent) == api.stats()["total_sent"] < 150
    assert all(r.attempts == 0 for r in stored if r.status == "pending")

    second = make_engine(worker_id="another")
    await second.run_until_idle()
    assert all(api.message_count(r.chat_id) == 1 for r in recipients)
    assert {r.status for r in await rows(pool, job.id)} == {"sent"}


async def test_rows_left_sending_by_a_dead_worker_are_resumed(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 8)
    engine = make_engine(max_attempts=3)
    job = await enqueue(engine, pool, recipients)
    ids = [r.id for r in await rows(pool, job.id)]
    here = default_worker_id().rsplit(":", 2)[0]  # this machine and PID namespace
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    now = utcnow()
    async with pool() as session:
        await session.execute(update(SendJob).values(status="running"))
        stale = now - timedelta(minutes=5)
        plan = [
            (ids[0], "dead-worker", stale, 0),  # lease expired: resumed
            (ids[1], "dead-worker", now, 0),  # someone else's live lease: left alone
            (ids[2], "test-worker", now, 0),  # this worker's own, from before a restart
            (ids[3], "test-worker", now, 2),  # and it was the last attempt: failed
            (ids[4], f"{here}:{gone.pid}:abcdef", now, 0),  # a local process that died
            (ids[5], f"{here}:{os.getppid()}:abcdef", now, 0),  # a local one still alive
        ]
        for delivery_id, worker, at, attempts in plan:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status="sending", claimed_by=worker, claimed_at=at, attempts=attempts)
            )
        await session.commit()
    await engine.start()
    try:
        for _ in range(500):
            statuses = [r.status for r in await rows(pool, job.id)]
            if statuses.count("sending") == 2 and "pending" not in statuses:
                break
            await asyncio.sleep(0.01)
    finally:
        await engine.stop()
    by_id = {r.id: r for r in await rows(pool, job.id)}
    assert (by_id[ids[0]].status, by_id[ids[0]].attempts) == ("sent", 2)
    assert by_id[ids[1]].status == "sending"
    assert (by_id[ids[2]].status, by_id[ids[2]].attempts) == ("sent", 2)
    assert (by_id[ids[3]].status, by_id[ids[3]].attempts) == ("failed", 3)
    assert (by_id[ids[3]].last_error or "").startswith("unknown")
    assert (by_id[ids[4]].status, by_id[ids[4]].attempts) == ("sent", 2)
    assert by_id[ids[5]].status == "sending"
    assert all(by_id[i].status == "sent" for i in ids[6:])
    assert (await get_job(pool, job.id)).status == "running"  # two rows are still out


async def test_enqueue_needs_an_aware_due_time(
    pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    engine = make_engine(bot=Bot("1:X", session=ScriptedSession([])))
    with pytest.raises(ValueError):
        await enqueue(engine, pool, [], due_at=datetime(2030, 1, 1))
    job = await enqueue(engine, pool, [], due_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert job.total == 0
