"""Roles: `prevnet run` takes updates and does the worker's duties; `prevnet worker` does
only the duties (bot/worker.py). Work a handler leaves in one process is picked up from the
database by a worker in another; SQLite refuses a worker and a second bot process; every
log line names its process."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import DeleteWebhook, GetUpdates, SendMessage, SetWebhook
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select, update

from bot.cli import log_format, main
from bot.config import Settings
from bot.delivery import Recipient
from bot.delivery.workers import process_id
from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.roles import SQLITE_WORKER_REFUSED, lock_path, single_process, sqlite_file
from bot.services import digests, events
from bot.worker import JOB_SETUPS, Worker, create_context
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import utcnow
from storage.models.digests import Digest
from storage.models.events import Event, EventReminder
from storage.repositories import digests as digest_repo
from storage.repositories import users
from tests.events_dialog import dialog_until_preview, local
from tests.events_helpers import COORDINATOR, MEMBERS, add_people
from tests.helpers import make_network
from tests.mocked_bot import MockedBot
from tests.people import Person
from tests.pg import fresh_database
from tests.test_digest import NOW as DIGEST_NOW
from tests.test_digest import make_sender, saida

# ------------------------------------------------------------------ the component


async def test_the_worker_does_the_duties_and_takes_no_updates(settings, session_pool, bot):
    ctx = create_context(settings, session_pool, bot, create_i18n("en"))
    worker = Worker(ctx)
    await worker.start()
    try:
        assert ctx.delivery.running and ctx.scheduler.running
        jobs = {job.id for job in ctx.scheduler.get_jobs()}
        assert {events.JOB_ID, "reports.notify", "reports.nudge", digests.SYNC_JOB_ID,
                "plans.remind"} <= jobs
    finally:
        await worker.stop()
    assert not ctx.delivery.running and not ctx.scheduler.running
    updates_taken = (GetUpdates, SetWebhook, DeleteWebhook)
    taken = [r for r in bot.take_requests() if isinstance(r, updates_taken)]
    assert taken == []


def test_the_dispatcher_starts_the_same_worker(dp):
    worker = dp["worker"]
    assert isinstance(worker, Worker) and worker.job_setups == JOB_SETUPS
    assert worker.context.delivery is dp["delivery"]
    assert worker.context.scheduler is dp["scheduler"]


async def test_the_dispatchers_startup_and_shutdown_run_the_worker(dp, bot):
    await dp.emit_startup(bot=bot)
    try:
        assert dp["worker"].started and dp["delivery"].running and dp["scheduler"].running
    finally:
        await dp.emit_shutdown()
    assert not dp["worker"].started and not dp["delivery"].running


# ------------------------------------------- work left by a handler in another process


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


def pg_settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="42:TEST",
        database_url=url,
        admin_ids=frozenset(),
        default_locale="en",
        flood_limit=0,
    )


def reminders_sent(bot: MockedBot) -> list[SendMessage]:
    return [
        r for r in bot.session.requests
        if isinstance(r, SendMessage) and (r.text or "").startswith("⏰")
    ]


async def wait_until(check: Any, timeout: float) -> float:
    """Seconds until ``check()`` is true (AssertionError after ``timeout``)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not done within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


@pytest.mark.postgres
async def test_an_events_reminder_made_in_process_a_is_sent_by_worker_b(pg_url):
    """Process A handles the coordinator's dialog (its worker's duties are not running);
    worker B shares only the database, and sends the announcement and the reminder."""
    settings = pg_settings(pg_url)
    engine_a, engine_b = create_engine(pg_url), create_engine(pg_url)
    bot_a, bot_b = MockedBot(), MockedBot()
    worker_b = None
    try:
        await upgrade(engine_a)
        pool_a, pool_b = create_session_pool(engine_a), create_session_pool(engine_b)
        dp_a = create_dispatcher(settings, pool_a, bot_a)
        worker_b = Worker(create_context(settings, pool_b, bot_b, create_i18n("en")))
        await worker_b.start()  # before the event exists: nothing to pick up at start

        async with pool_a() as session:
            network = await make_network(session)
            await add_people(session, network)
        coordinator = Person(dp_a, bot_a, COORDINATOR)
        await dialog_until_preview(coordinator, start=local(3, 17))
        await coordinator.tap("📣 Announce")
        async with pool_a() as session:
            event = await session.scalar(select(Event))
            assert event is not None
            first = await session.scalar(
                select(EventReminder).where(EventReminder.event_id == event.id)
                .order_by(EventReminder.due_at)
            )
            assert first is not None
            # Time passes: the first reminder falls due in a second.
            await session.execute(
                update(EventReminder).where(EventReminder.id == first.id)
                .values(due_at=utcnow() + timedelta(seconds=1))
            )
            await session.commit()

        members = {tg for tg, *_rest in MEMBERS}
        waited = await wait_until(
            lambda: {r.chat_id for r in reminders_sent(bot_b)} == members,
            timeout=events.TICK_SECONDS + 10,
        )
        assert waited < events.TICK_SECONDS + 5  # bounded: the reminder tick's interval
        announced = {
            r.chat_id for r in bot_b.session.requests
            if isinstance(r, SendMessage) and "First aid" in (r.text or "")
        }
        assert members - {COORDINATOR} <= announced  # the announcement went out from B too
        await asyncio.sleep(1.5)
        assert sorted(r.chat_id for r in reminders_sent(bot_b)) == sorted(members)  # once
        assert reminders_sent(bot_a) == []  # A queued nothing of it and sent nothing
        async with pool_b() as session:
            status = await session.scalar(
                select(EventReminder.status).where(EventReminder.id == first.id)
            )
        assert status == "sent"
    finally:
        if worker_b is not None:
            await worker_b.stop()
        await engine_a.dispose()
        await engine_b.dispose()


@pytest.mark.postgres
async def test_a_broadcast_scheduled_in_process_a_goes_out_from_worker_b_on_time(pg_url):
    settings = pg_settings(pg_url)
    engine_a, engine_b = create_engine(pg_url), create_engine(pg_url)
    bot_a, bot_b = MockedBot(), MockedBot()
    worker_b = None
    try:
        await upgrade(engine_a)
        pool_a, pool_b = create_session_pool(engine_a), create_session_pool(engine_b)
        dp_a = create_dispatcher(settings, pool_a, bot_a)  # its engine is not running
        worker_b = Worker(create_context(settings, pool_b, bot_b, create_i18n("en")), ())
        await worker_b.start()
        async with pool_a() as session:
            people = [await users.get_or_create(session, 600 + n) for n in range(3)]
            await session.commit()
            due = utcnow() + timedelta(seconds=2)
            await dp_a["delivery"].enqueue(
                session,
                kind="broadcast",
                payload={"method": "send_message", "params": {"text": "Later, everyone"}},
                recipients=[Recipient(u.id, u.tg_id) for u in people],
                due_at=due,
            )

        def sent() -> list[SendMessage]:
            return [r for r in bot_b.session.requests
                    if isinstance(r, SendMessage) and r.text == "Later, everyone"]

        await asyncio.sleep(1)
        assert sent() == []  # not before its time
        await wait_until(lambda: len(sent()) == 3, timeout=10)
        assert utcnow() >= due
        assert sorted(r.chat_id for r in sent()) == [600, 601, 602]
        assert bot_a.session.requests == []
    finally:
        if worker_b is not None:
            await worker_b.stop()
        await engine_a.dispose()
        await engine_b.dispose()


async def test_a_digest_trigger_planned_before_a_change_elsewhere_does_not_fire(
    session, session_pool, bot
):
    """Process B planned Sunday 09:00; a coordinator moved it to Wednesday in process A.
    B's old trigger fires before its next sync: B re-plans and sends nothing."""
    w = await saida(session)
    scheduler_b = AsyncIOScheduler()
    sender_b = make_sender(bot, session_pool)
    async with session_pool() as s:
        [(network, schedule)] = await digest_repo.networks_with_schedules(s, [w.network.id])
    digests.plan(scheduler_b, sender_b, network, schedule)  # what B's sync did
    job_id = digests.network_job_id(w.network.id)
    assert str(scheduler_b.get_job(job_id).trigger.fields[4]) == "sun"

    await digest_repo.save_schedule(session, w.network.id, DIGEST_NOW, weekday=2, hour=18)
    await session.commit()
    await scheduler_b.get_job(job_id).func()  # the stale Sunday trigger fires in B
    async with session_pool() as s:
        assert await s.scalar(select(func.count()).select_from(Digest)) == 0  # not sent
    trigger = scheduler_b.get_job(job_id).trigger
    assert (str(trigger.fields[4]), str(trigger.fields[5])) == ("wed", "18")
    await scheduler_b.get_job(job_id).func()  # the right trigger sends it
    async with session_pool() as s:
        assert await s.scalar(select(func.count()).select_from(Digest)) == 1


# ------------------------------------------------------------------ SQLite: one process


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "ADMIN_IDS", "REDIS_URL",
                 "WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'db' / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOT_TOKEN", "42:TEST")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")  # never reached
    return url


async def cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_worker_on_sqlite_is_refused_with_one_line(cli_env, capsys, monkeypatch):
    monkeypatch.delenv("BOT_TOKEN")  # refused for SQLite first, whatever else is missing
    assert await cli("worker") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == f"prevnet: {SQLITE_WORKER_REFUSED}\n"
    assert ("SQLite serves one process: `prevnet run` does the worker's duties; for several "
            "processes use PostgreSQL (DATABASE_URL=postgresql+asyncpg://...) and REDIS_URL"
            ) in err


async def test_a_second_bot_process_on_one_sqlite_file_is_refused(cli_env, capsys):
    with single_process(cli_env) as held:  # as a running `prevnet run` holds it
        assert held == lock_path(sqlite_file(cli_env))  # type: ignore[arg-type]
        assert await cli("run") == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"another prevnet process (pid {os.getpid()}) is running on" in err
        assert "SQLite serves one process" in err
        # One-shot commands keep working beside it.
        assert await cli("network", "add", "--slug", "saida", "--name", "Saida",
                         "--country", "LB", "--timezone", "Asia/Beirut") == 0
        assert await cli("network", "list") == 0
        assert "saida\tSaida" in capsys.readouterr().out
    with single_process(cli_env):  # released with the process (here: the block)
        pass


def test_the_lock_is_only_for_sqlite_files():
    assert sqlite_file("postgresql+asyncpg://u@h/db") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    with single_process("postgresql+asyncpg://u@h/db") as held:
        assert held is None


# ------------------------------------------------------------------------- logs


def test_every_log_line_names_its_process():
    record = logging.LogRecord("bot.worker", logging.INFO, __file__, 1, "hello", None, None)
    line = logging.Formatter(log_format()).format(record)
    pid, suffix = process_id().rsplit(":", 2)[-2:]
    assert pid == str(os.getpid())
    assert f" INFO [{pid}:{suffix}] bot.worker: hello" in line
