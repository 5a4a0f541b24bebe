"""bot/heartbeat.py: the row appears at start, last_seen advances, the row goes at a clean
stop; a database that fails is logged and retried, never fatal."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.workers import process_id
from bot.heartbeat import ALIVE_AFTER, Heartbeat
from storage.engine import create_engine, create_session_pool
from storage.models import Process, utcnow
from storage.repositories import processes

Pool = async_sessionmaker[AsyncSession]


async def _rows(pool: Pool) -> list[Process]:
    async with pool() as session:
        return list(await session.scalars(select(Process).order_by(Process.id)))


async def _wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_beats_and_removes_its_row(pool: Pool) -> None:
    heartbeat = Heartbeat(pool, role="run", interval=0.1)
    assert heartbeat.alive_after == timedelta(seconds=0.3)
    before = utcnow()
    await heartbeat.start()
    try:
        [row] = await _rows(pool)  # the first beat is written before start() returns
        assert (row.id, row.role, row.host, row.pid) == (
            process_id(), "run", socket.gethostname(), os.getpid())
        assert before <= row.started_at <= row.last_seen
        first = row.last_seen

        async def advanced() -> bool:
            rows = await _rows(pool)
            return bool(rows) and rows[0].last_seen > first and heartbeat.beats >= 3

        await _wait_for(advanced)
        [row] = await _rows(pool)
        assert row.started_at == heartbeat.started_at  # kept across beats
        async with pool() as session:
            alive = await processes.alive(session, now=utcnow(), within=heartbeat.alive_after)
        assert [p.id for p in alive] == [process_id()]
    finally:
        await heartbeat.stop()
    assert not heartbeat.running
    assert await _rows(pool) == []


async def test_two_roles_side_by_side(pool: Pool) -> None:
    run = Heartbeat(pool, role="run", interval=0.05, process_id="h/b/n:1:aaaaaa")
    worker = Heartbeat(pool, role="worker", interval=0.05, process_id="h/b/n:2:bbbbbb")
    await run.start()
    await worker.start()
    assert [(r.id, r.role) for r in await _rows(pool)] == [
        ("h/b/n:1:aaaaaa", "run"), ("h/b/n:2:bbbbbb", "worker")]
    await worker.stop()
    assert [r.role for r in await _rows(pool)] == ["run"]
    await run.stop()
    assert await _rows(pool) == []


async def test_prunes_processes_dead_for_a_day(pool: Pool) -> None:
    now = utcnow()
    async with pool() as session:
        for name, seen in (("dead", now - timedelta(days=1, minutes=1)),
                           ("recent", now - timedelta(hours=23))):
            await processes.beat(session, process_id=name, role="run", host="h", pid=1,
                                 started_at=seen, now=seen)
        await session.commit()
    heartbeat = Heartbeat(pool, role="worker", interval=30, process_id="me")
    await heartbeat.start()
    assert sorted(r.id for r in await _rows(pool)) == ["me", "recent"]
    await heartbeat.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_failing_database_is_logged_and_retried(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    bad_engine = create_engine(
        f"postgresql+asyncpg://nobody:secret@127.0.0.1:{_closed_port()}/none"
    )
    heartbeat = Heartbeat(create_session_pool(bad_engine), role="run", interval=0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.heartbeat"):
            await heartbeat.start()  # does not raise
            await asyncio.sleep(0.2)
        assert heartbeat.running and heartbeat.beats == 0
        failures = [r.getMessage() for r in caplog.records if r.name == "bot.heartbeat"]
        assert len(failures) >= 2
        assert all("\n" not in m and "could not write to the database" in m for m in failures)
        assert all("secret" not in m for m in failures)

        heartbeat.session_pool = pool  # the database is back
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bot.heartbeat"):
            async def written() -> bool:
                return bool(await _rows(pool))

            await _wait_for(written)
        assert "heartbeat: the database answers again" in caplog.text
    finally:
        await heartbeat.stop()
        await bad_engine.dispose()
    assert await _rows(pool) == []


async def test_stop_without_a_database_does_not_raise() -> None:
    bad_engine = create_engine(f"postgresql+asyncpg://x@127.0.0.1:{_closed_port()}/none")
    heartbeat = Heartbeat(create_session_pool(bad_engine), role="run", interval=10)
    await heartbeat.start()
    await heartbeat.stop()
    await heartbeat.stop()  # twice is fine
    await bad_engine.dispose()


def test_status_assumes_the_default_interval() -> None:
    assert ALIVE_AFTER == timedelta(seconds=30)
    with pytest.raises(ValueError):
        Heartbeat(None, role="run", interval=0)  # type: ignore[arg-type]
