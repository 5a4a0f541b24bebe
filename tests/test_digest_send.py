"""Weekly digests through the outbox: exactly once per network and week (restarts, crashes,
two concurrent senders on SQLite and PostgreSQL), schedules and time zones per network."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from aiogram.methods import SendDocument, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.charts import png_size
from bot.context import AppContext
from bot.digest_render import Renderer
from bot.i18n import create_i18n
from bot.services import digests
from bot.services.access import Actor
from bot.services.digests import Outcome
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import SendJob, User
from storage.models.digests import Digest
from storage.repositories import digests as repo
from storage.repositories import users
from tests.helpers import make_network
from tests.people import ADMIN_ID
from tests.pg import fresh_database
from tests.test_digest import (
    NOW,
    add_person,
    add_report,
    build_one,
    make_sender,
    member_row,
    saida,
)


def sent(requests: list[Any], kind: type) -> list[Any]:
    return [r for r in requests if isinstance(r, kind)]


async def count_jobs(session: AsyncSession, kind: str) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(SendJob).where(SendJob.kind == kind))
        or 0
    )


async def test_once_a_week_then_refused_then_forced(session, session_pool, bot):
    w = await saida(session)
    sender = make_sender(bot, session_pool)
    result = await digests.send_network_digest(sender, w.network.id, now=NOW, trigger="schedule")
    assert result.outcome == Outcome.SENT and result.recipients == 3  # Sami blocked the bot
    assert result.week.isoformat() == "2025-03-10"
    await sender.delivery.run_until_idle()
    requests = bot.take_requests()

    photos = sent(requests, SendPhoto)  # the chart, uploaded once, to the coordinator
    assert [p.chat_id for p in photos] == [100]
    assert isinstance(photos[0].photo, BufferedInputFile)
    assert png_size(photos[0].photo.data) == (600, 300)
    by_chat = {m.chat_id: m.text for m in sent(requests, SendMessage)}
    assert sorted(by_chat) == [100, 101, 102]
    assert "For coordinators" in by_chat[100] and "For coordinators" not in by_chat[101]
    assert "your answer: Going" in by_chat[101]
    d = await build_one(session, w.network)
    renderer = Renderer(sender.i18n)
    assert by_chat[102] == renderer.text(d, "ar", member_row(d, w.people["Omar"]), False)
    assert by_chat[100] == renderer.text(d, "en", member_row(d, w.people["Maya"]), True)

    again = await digests.send_network_digest(sender, w.network.id, now=NOW + timedelta(hours=3),
                                              trigger="cli")
    assert again.outcome == Outcome.ALREADY_SENT and again.digest is not None
    await sender.delivery.run_until_idle()
    assert bot.take_requests() == []

    forced = await digests.send_network_digest(sender, w.network.id, now=NOW, trigger="cli",
                                               force=True)
    assert forced.outcome == Outcome.SENT
    await sender.delivery.run_until_idle()
    assert sorted(m.chat_id for m in sent(bot.take_requests(), SendMessage)) == [100, 101, 102]
    row = await repo.get(session, repo.network_scope(w.network.id), forced.week)
    assert row is not None and row.resends == 1 and row.status == "sent"
    assert set(row.job_ids) == {"text"}  # one coordinator: the upload was their chart


async def test_chart_is_uploaded_once_per_language_then_sent_by_file_id(
    session, session_pool, bot
):
    w = await saida(session)
    await add_person(session, w.network, 110, "Hadi", role="coordinator", language="en")
    await add_person(session, w.network, 111, "Lina", role="coordinator", language="ar")
    await session.commit()
    sender = make_sender(bot, session_pool)
    await digests.send_network_digest(sender, w.network.id, now=NOW, trigger="schedule")
    await sender.delivery.run_until_idle()
    photos = sent(bot.take_requests(), SendPhoto)
    uploads = [p for p in photos if isinstance(p.photo, BufferedInputFile)]
    by_id = [p for p in photos if isinstance(p.photo, str)]
    # The first coordinator (by name) of each language gets the upload.
    assert sorted(p.chat_id for p in uploads) == [110, 111]
    assert [(p.chat_id, p.photo) for p in by_id] == [(100, "ph1")]


async def test_restart_after_a_crash_finishes_the_digest_once(session, session_pool, bot):
    w = await saida(session)
    sender = make_sender(bot, session_pool)
    week = digests.current_week(w.network, NOW)
    # A process claimed this week's digest, then died before sending anything.
    await repo.claim(session, scope=repo.network_scope(w.network.id), network_id=w.network.id,
                     week=week, trigger="schedule", as_of=NOW, worker_id="dead",
                     now=NOW - timedelta(minutes=1))
    await session.commit()
    # Within its lease nobody else touches it.
    assert (await digests.send_network_digest(sender, w.network.id, now=NOW, trigger="cli")
            ).outcome == Outcome.IN_PROGRESS
    assert await digests.catch_up(sender, NOW) == []
    # After the lease, the next start (catch-up) finishes it.
    later = NOW + digests.LEASE
    results = await digests.catch_up(sender, later)
    assert [r.outcome for r in results] == [Outcome.SENT]
    await sender.delivery.run_until_idle()
    assert sorted(m.chat_id for m in sent(bot.take_requests(), SendMessage)) == [100, 101, 102]
    # Another restart, the scheduler and a second process: nothing more.
    restarted = make_sender(bot, session_pool, worker_id="restarted")
    assert await digests.catch_up(restarted, later + timedelta(minutes=30)) == []
    assert (await digests.send_network_digest(restarted, w.network.id, now=later,
                                              trigger="schedule")).outcome == Outcome.ALREADY_SENT
    await restarted.delivery.run_until_idle()
    assert bot.take_requests() == []


async def test_crash_between_parts_repeats_no_part(session, session_pool, bot, monkeypatch):
    w = await saida(session)
    await add_person(session, w.network, 110, "Hadi", role="coordinator")
    await session.commit()
    sender = make_sender(bot, session_pool)
    enqueue = sender.delivery.enqueue

    async def crash_on_text(session: AsyncSession, **kw: Any) -> Any:
        if kw["kind"] == digests.KIND_TEXT:
            raise RuntimeError("killed")
        return await enqueue(session, **kw)

    monkeypatch.setattr(sender.delivery, "enqueue", crash_on_text)
    with pytest.raises(RuntimeError):
        await digests.send_network_digest(sender, w.network.id, now=NOW, trigger="schedule")
    monkeypatch.setattr(sender.delivery, "enqueue", enqueue)
    async with session_pool() as s:
        assert await count_jobs(s, digests.KIND_CHART) == 1
        row = await repo.get(s, repo.network_scope(w.network.id), digests.current_week(
            w.network, NOW))
        assert row is not None and row.status == "claimed"
        assert row.progress["parts"] == ["chart"]

    results = await digests.catch_up(sender, NOW + digests.LEASE + timedelta(seconds=1))
    assert [r.outcome for r in results] == [Outcome.SENT]
    await sender.delivery.run_until_idle()
    requests = bot.take_requests()
    photos = sent(requests, SendPhoto)
    assert sorted(p.chat_id for p in photos) == [100, 110]  # one upload, one by file_id
    assert sorted(m.chat_id for m in sent(requests, SendMessage)) == [100, 101, 102, 110]
    async with session_pool() as s:
        assert await count_jobs(s, digests.KIND_CHART) == 1
        assert await count_jobs(s, digests.KIND_TEXT) == 1


async def _two_senders_at_once(url: str, bot: Any) -> None:
    engines = [create_engine(url), create_engine(url)]
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        async with pools[0]() as session:
            w = await saida(session)
        senders = [make_sender(bot, pool, worker_id=f"proc-{i}") for i, pool in enumerate(pools)]
        results = await asyncio.gather(
            *(digests.send_network_digest(s, w.network.id, now=NOW, trigger="schedule")
              for s in senders)
        )
        outcomes = sorted(r.outcome for r in results)
        assert outcomes.count(Outcome.SENT) == 1, outcomes
        assert set(outcomes) - {Outcome.SENT} <= {Outcome.ALREADY_SENT, Outcome.IN_PROGRESS}
        for s in senders:
            await s.delivery.run_until_idle()
        texts = sent(bot.take_requests(), SendMessage)
        assert sorted(m.chat_id for m in texts) == [100, 101, 102]
        async with pools[1]() as session:
            assert await count_jobs(session, digests.KIND_TEXT) == 1
            assert await session.scalar(select(func.count()).select_from(Digest)) == 1
    finally:
        for e in engines:
            await e.dispose()


async def test_two_concurrent_senders_on_sqlite(tmp_path, bot):
    await _two_senders_at_once(f"sqlite+aiosqlite:///{tmp_path / 'two.db'}", bot)


@pytest.mark.postgres
async def test_two_concurrent_senders_on_postgres(bot):
    async with fresh_database() as url:
        await _two_senders_at_once(url, bot)


# ------------------------------------------------------------------- schedules, zones


async def test_time_zone_and_weekday_per_network(session, session_pool, bot):
    w = await saida(session)  # Asia/Beirut, default Sunday 09:00
    irbid = await make_network(session, "irbid", name="Irbid Network", country="JO",
                               timezone="Asia/Amman")
    irbid.created_at = NOW - timedelta(days=90)
    await repo.save_schedule(session, irbid.id, NOW - timedelta(days=30), weekday=3, hour=8)
    await session.commit()
    sender = make_sender(bot, session_pool)
    scheduler = AsyncIOScheduler(timezone=UTC)
    wednesday = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)
    await digests.sync(scheduler, sender, wednesday)

    def next_fire(network_id: int, after: datetime) -> datetime:
        job = scheduler.get_job(digests.network_job_id(network_id))
        return job.trigger.get_next_fire_time(None, after).astimezone(UTC)

    # Beirut is UTC+2 in winter, UTC+3 in summer; Amman is UTC+3 all year.
    assert next_fire(w.network.id, wednesday) == datetime(2025, 3, 16, 7, 0, tzinfo=UTC)
    assert next_fire(irbid.id, wednesday) == datetime(2025, 3, 13, 5, 0, tzinfo=UTC)
    june = datetime(2025, 6, 11, tzinfo=UTC)
    assert next_fire(w.network.id, june) == datetime(2025, 6, 15, 6, 0, tzinfo=UTC)
    assert next_fire(irbid.id, june) == datetime(2025, 6, 12, 5, 0, tzinfo=UTC)

    # Near midnight the two zones are in different days, so in different weeks.
    sunday_night = datetime(2025, 1, 12, 21, 30, tzinfo=UTC)
    assert digests.current_week(w.network, sunday_night).isoformat() == "2025-01-06"
    assert digests.current_week(irbid, sunday_night).isoformat() == "2025-01-13"
    assert digests.window_for(digests.zone(irbid), sunday_night).end.isoformat() == "2025-01-13"

    # The cron job itself sends that network's digest.
    job = scheduler.get_job(digests.network_job_id(irbid.id))
    await job.func()
    async with session_pool() as s:
        rows = (await s.scalars(select(Digest))).all()
        assert [r.network_id for r in rows] == [irbid.id]


async def test_catch_up_sends_this_weeks_missed_digest_only(session, session_pool, bot):
    w = await saida(session)  # due Sunday 16 March 07:00 UTC
    late = await make_network(session, "late", name="Late Network")
    late.created_at = NOW + timedelta(minutes=10)  # made after its digest was due
    moved = await make_network(session, "moved", name="Moved Network")
    moved.created_at = NOW - timedelta(days=90)
    await repo.save_schedule(session, moved.id, NOW + timedelta(minutes=20), weekday=0, hour=9)
    await session.commit()
    sender = make_sender(bot, session_pool)

    assert await digests.catch_up(sender, NOW - timedelta(minutes=1)) == []  # not due yet
    results = await digests.catch_up(sender, NOW + timedelta(minutes=30))
    assert [(r.outcome, r.digest.network_id if r.digest else None) for r in results] == [
        (Outcome.SENT, w.network.id)
    ]
    assert await digests.catch_up(sender, NOW + timedelta(minutes=40)) == []
    # A week missed entirely is not sent late: the next week starts on Monday.
    async with session_pool() as s:
        await s.execute(Digest.__table__.delete())
        await s.commit()
    monday = datetime(2025, 3, 17, 6, 0, tzinfo=UTC)  # 08:00 in Beirut
    assert await digests.catch_up(sender, monday) == []
    # The moved network's new time (Monday 09:00) comes, in the new week: it goes out.
    results = await digests.catch_up(sender, monday + timedelta(hours=1, minutes=5))
    assert [r.digest.network_id for r in results if r.digest] == [moved.id]


async def test_settings_change_replans_the_trigger(session, session_pool, bot, settings):
    w = await saida(session)
    scheduler = AsyncIOScheduler(timezone=UTC)
    sender = make_sender(bot, session_pool)
    ctx = AppContext(bot=bot, session_pool=session_pool, settings=settings,
                     i18n=create_i18n("en"), scheduler=scheduler, delivery=sender.delivery)
    digests.setup_jobs(ctx)
    assert scheduler.get_job(digests.SYNC_JOB_ID) is not None
    assert scheduler.get_job(digests.ADMIN_JOB_ID) is not None  # ADMIN_IDS is set
    await scheduler.get_job(digests.SYNC_JOB_ID).func()  # plans (and catches up: nothing due)
    job_id = digests.network_job_id(w.network.id)
    assert str(scheduler.get_job(job_id).trigger.fields[4]) == "sun"

    actor = Actor.build(100, await users.get_by_tg_id(session, 100), frozenset())
    network, schedule = await digests.change_schedule(session, actor, w.network.id, NOW,
                                                      weekday=2, hour=18)
    assert digests.replan(scheduler, network, schedule)
    trigger = scheduler.get_job(job_id).trigger
    assert (str(trigger.fields[4]), str(trigger.fields[5])) == ("wed", "18")


async def test_admins_digest_with_spreadsheet(session, session_pool, bot):
    w = await saida(session)
    irbid = await make_network(session, "irbid", name="Irbid Network", country="JO",
                               timezone="Asia/Amman")
    omar = await add_person(session, irbid, 400, "Omar")
    await add_report(session, irbid, omar, day=datetime(2025, 3, 14).date(), participants=12)
    admin = User(tg_id=ADMIN_ID, language="en", display_name="Admin")
    session.add(admin)
    await session.commit()
    sender = make_sender(bot, session_pool, admin_ids=frozenset({ADMIN_ID}))
    result = await digests.send_admin_digest(sender, now=NOW, trigger="schedule")
    assert result.outcome == Outcome.SENT and result.recipients == 1
    await sender.delivery.run_until_idle()
    requests = bot.take_requests()
    (document,) = sent(requests, SendDocument)
    (message,) = sent(requests, SendMessage)
    assert document.chat_id == message.chat_id == ADMIN_ID
    assert "All networks" in message.text
    assert "2 networks · 4 members, 2 active" in message.text
    assert "4 activities" in message.text and "Reporting rate: 50%" in message.text
    book = openpyxl.load_workbook(io.BytesIO(document.document.data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:5] == ("Network", "Country", "Members", "Active members", "Activities")
    assert [r[0] for r in rows[1:]] == ["Irbid Network", w.network.name]
    assert rows[1][2:6] == (1, 1, 1, 12) and rows[2][2:6] == (3, 1, 3, 35)
    assert (await digests.send_admin_digest(sender, now=NOW, trigger="cli")).outcome == (
        Outcome.ALREADY_SENT
    )


async def test_a_digest_cut_off_in_an_earlier_week_is_not_finished(session, session_pool, bot):
    w = await saida(session)
    last_week = digests.current_week(w.network, NOW) - timedelta(days=7)
    await repo.claim(session, scope=repo.network_scope(w.network.id), network_id=w.network.id,
                     week=last_week, trigger="schedule", as_of=NOW - timedelta(days=7),
                     worker_id="dead", now=NOW - timedelta(days=7))
    await session.commit()
    sender = make_sender(bot, session_pool)
    results = await digests.catch_up(sender, NOW + timedelta(minutes=5))
    assert [r.week for r in results] == [digests.current_week(w.network, NOW)]  # this week's
    old = await repo.get(session, repo.network_scope(w.network.id), last_week)
    assert old is not None and old.status == "abandoned"
    await sender.delivery.run_until_idle()
    assert sorted(m.chat_id for m in sent(bot.take_requests(), SendMessage)) == [100, 101, 102]
