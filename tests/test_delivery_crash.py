"""kill -9 in the middle of a 5,000-recipient job; a second run finishes it.

The worker is a real process (tests/delivery_worker.py) sending at a high rate to the fake
Bot API served by this test process. Both runs use the default worker id (host, boot,
PID namespace, pid), so the second run sees that the first one's process is gone and takes
its rows back at once, without waiting for their lease. Every recipient must end with at
least one message; the only duplicates allowed are the messages that were in flight at the
kill (at most the worker's concurrency).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from aiogram import Bot
from sqlalchemy import func, select

from bot.delivery import DeliveryEngine
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Delivery, SendJob
from tests.delivery_worker import seed_users
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 5_000
CONCURRENCY = 32
KILL_AFTER = 1_500


async def run_worker(db_url: str, api_url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.delivery_worker",
        "--db",
        db_url,
        "--api",
        api_url,
        "--rate",
        "1000",
        "--concurrency",
        str(CONCURRENCY),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def status_counts(pool: object, job_id: int) -> dict[str, int]:
    async with pool() as session:  # type: ignore[operator]
        result = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.job_id == job_id)
            .group_by(Delivery.status)
        )
        return {status: count for status, count in result.all()}


async def test_kill_minus_9_mid_job_then_resume(tmp_path: Path) -> None:
    await kill_and_resume(f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}")


@pytest.mark.postgres
async def test_kill_minus_9_mid_job_then_resume_on_postgresql() -> None:
    """The same on PostgreSQL, where several workers share the outbox: the next worker
    takes the dead one's rows over."""
    async with fresh_database() as url:
        await kill_and_resume(url)


async def kill_and_resume(db_url: str) -> None:
    db = create_engine(db_url)
    await upgrade(db)
    pool = create_session_pool(db)
    try:
        async with FakeBotAPI(max_calls=0) as api:
            tg_ids = api.add_users(RECIPIENTS, 7_000_000)
            recipients = await seed_users(pool, tg_ids)
            async with pool() as session:
                job = await DeliveryEngine(Bot(api.token), pool, rate=1000).enqueue(
                    session,
                    kind="broadcast",
                    payload={"params": {"text": "Tomorrow's meeting is at 17:00"}},
                    recipients=recipients,
                )

            worker = await run_worker(db_url, api.base_url)
            try:
                async with asyncio.timeout(60):
                    while api.stats()["total_sent"] < KILL_AFTER:
                        assert worker.returncode is None, await worker.stderr.read()  # type: ignore[union-attr]
                        await asyncio.sleep(0.005)
            finally:
                worker.send_signal(signal.SIGKILL)
                await worker.communicate()
            assert worker.returncode == -signal.SIGKILL
            sent_at_kill = api.stats()["total_sent"]
            assert KILL_AFTER <= sent_at_kill < RECIPIENTS  # killed in the middle
            left = await status_counts(pool, job.id)
            assert left.get("sent", 0) <= sent_at_kill
            assert left.get("pending", 0) + left.get("sending", 0) > 0

            worker = await run_worker(db_url, api.base_url)
            async with asyncio.timeout(60):
                out, err = await worker.communicate()
            assert worker.returncode == 0, err.decode()
            assert out.decode().splitlines()[-1].startswith("DONE")

            counts = [api.message_count(uid) for uid in tg_ids]
            missing = sum(1 for c in counts if c == 0)
            duplicates = sum(c - 1 for c in counts if c > 1)
            assert missing == 0
            assert duplicates <= CONCURRENCY
            assert await status_counts(pool, job.id) == {"sent": RECIPIENTS}
            async with pool() as session:
                finished = await session.get(SendJob, job.id)
                assert finished is not None and finished.status == "done"
                resent = await session.scalar(
                    select(func.count()).where(Delivery.job_id == job.id, Delivery.attempts > 1)
                )
            # Rows the dead worker held come back as attempts of unknown outcome.
            assert duplicates <= (resent or 0)
    finally:
        await db.dispose()
