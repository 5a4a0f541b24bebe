"""Two delivery engines on one PostgreSQL database never send the same row.

Uses the database ``test`` at postgresql+asyncpg://postgres@127.0.0.1:5432/test (override
with PREVNET_TEST_PG_URL) in a fresh schema per test; starts the local cluster if it is
down; skips with the reason when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Delivery, SendJob, utcnow
from storage.repositories import delivery as repo
from tests.delivery_worker import make_bot, seed_users

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("PREVNET_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _problem() -> str | None:
    import asyncpg

    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def _start_cluster() -> None:
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                capture_output=True,
                timeout=60,
                check=False,
            )


@pytest.fixture
async def pg_url() -> AsyncIterator[tuple[str, str]]:
    problem = await _problem()
    if problem is not None:
        await asyncio.to_thread(_start_cluster)
        for _ in range(20):
            problem = await _problem()
            if problem is None:
                break
            await asyncio.sleep(0.5)
    if problem is not None:
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}: {problem}")
    schema = f"delivery_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield PG_URL, schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def engine_in(url_schema: tuple[str, str]) -> AsyncEngine:
    url, schema = url_schema
    return create_engine(url, connect_args={"server_settings": {"search_path": schema}})


async def test_two_engines_share_a_job_and_never_send_a_row_twice(
    pg_url: tuple[str, str],
) -> None:
    db_a, db_b = engine_in(pg_url), engine_in(pg_url)
    await upgrade(db_a)
    pool_a, pool_b = create_session_pool(db_a), create_session_pool(db_b)
    async with FakeBotAPI(max_calls=0) as api:
        bot_a, bot_b = make_bot(api.base_url), make_bot(api.base_url)
        try:
            tg_ids = api.add_users(3_000, 8_000_000)
            recipients = await seed_users(pool_a, tg_ids)
            settings = {"rate": 1500, "concurrency": 16, "claim_batch": 64}
            # Default worker ids: both in this process, each must see the other as alive.
            a = DeliveryEngine(bot_a, pool_a, **settings)  # type: ignore[arg-type]
            b = DeliveryEngine(bot_b, pool_b, **settings)  # type: ignore[arg-type]
            await a.start()
            await b.start()
            try:
                async with pool_a() as session:
                    job = await a.enqueue(
                        session,
                        kind="broadcast",
                        payload={"params": {"text": "hello"}},
                        recipients=recipients,
                    )
                b.wake()
                await asyncio.gather(a.run_until_idle(), b.run_until_idle())
            finally:
                await a.stop()
                await b.stop()
        finally:
            await bot_a.session.close()
            await bot_b.session.close()
        counts = [api.message_count(uid) for uid in tg_ids]
    try:
        assert counts == [1] * len(tg_ids)  # nobody twice, nobody missed
        async with pool_a() as session:
            by_worker = dict(
                (
                    await session.execute(
                        select(Delivery.claimed_by, func.count())
                        .where(Delivery.job_id == job.id, Delivery.status == "sent")
                        .group_by(Delivery.claimed_by)
                    )
                ).all()
            )
            finished = await session.get(SendJob, job.id)
        assert set(by_worker) == {a.worker_id, b.worker_id}  # both really took part
        assert sum(by_worker.values()) == 3_000
        assert a.stats.sent + b.stats.sent == 3_000
        assert finished is not None and finished.status == "done"
    finally:
        await db_a.dispose()
        await db_b.dispose()


async def test_claims_skip_rows_locked_by_another_transaction(pg_url: tuple[str, str]) -> None:
    db_a, db_b = engine_in(pg_url), engine_in(pg_url)
    await upgrade(db_a)
    pool_a: async_sessionmaker[AsyncSession] = create_session_pool(db_a)
    pool_b: async_sessionmaker[AsyncSession] = create_session_pool(db_b)
    try:
        recipients = await seed_users(pool_a, list(range(9_000_000, 9_000_200)))
        async with pool_a() as session:
            job = await DeliveryEngine(Bot("1:X"), pool_a, rate=10).enqueue(
                session, kind="test", payload={"params": {"text": "x"}}, recipients=recipients
            )
            await repo.promote_due_jobs(session, utcnow())
            await session.commit()
        async with pool_a() as first, pool_b() as second:
            mine = await repo.claim(first, job_id=job.id, worker_id="a", now=utcnow(), limit=80)
            # The first transaction is still open and holds its rows: the second claim
            # must neither wait for it nor take any of them.
            async with asyncio.timeout(10):
                theirs = await repo.claim(
                    second, job_id=job.id, worker_id="b", now=utcnow(), limit=200
                )
            await second.commit()
            await first.commit()
        assert len(mine) == 80 and len(theirs) == 120
        assert not {r.id for r in mine} & {r.id for r in theirs}
        async with pool_a() as session:
            owners = dict(
                (
                    await session.execute(
                        select(Delivery.claimed_by, func.count())
                        .where(Delivery.job_id == job.id, Delivery.status == "sending")
                        .group_by(Delivery.claimed_by)
                    )
                ).all()
            )
        assert owners == {"a": 80, "b": 120}
    finally:
        await db_a.dispose()
        await db_b.dispose()
