"""A nudge is claimed in the database: several claims for one person at the same instant
(two coordinators, a double tap, two bot processes), on SQLite and on PostgreSQL, give
exactly one True; a mark from an earlier day does not stand in the way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.services.networks import create_network
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.repositories import reports, users
from tests.pg import fresh_database

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
DAY_START = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)  # midnight in Amman (UTC+2)


async def _claims(url: str) -> None:
    engines = [create_engine(url) for _ in range(3)]
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        async with pools[0]() as session:
            network = await create_network(session, slug="irbid", name="Irbid", country="JO",
                                           timezone="Asia/Amman", locale="ar")
            user = await users.get_or_create(session, 4242)
            await session.commit()
            ids = network.id, user.id

        async def claim(n: int, now: datetime, day_start: datetime = DAY_START) -> bool:
            async with pools[n]() as session:
                got = await reports.claim_nudge(session, *ids, now, day_start)
                await asyncio.sleep(0.05)  # hold the transaction open, as a request does
                await session.commit()
                return got

        # Nobody nudged yet: three at once, one wins (the insert the primary key refuses).
        assert sorted(await asyncio.gather(*(claim(n, NOW) for n in range(3)))) == [
            False, False, True]
        # Later the same day: refused; the next day: one wins again (the update).
        assert await claim(0, NOW + timedelta(hours=3)) is False
        tomorrow, next_start = NOW + timedelta(days=1), DAY_START + timedelta(days=1)
        assert sorted(await asyncio.gather(
            *(claim(n, tomorrow, next_start) for n in range(3)))) == [False, False, True]
    finally:
        for e in engines:
            await e.dispose()


async def test_one_claim_wins_on_sqlite(tmp_path: Path) -> None:
    await _claims(f"sqlite+aiosqlite:///{tmp_path / 'nudge.db'}")


@pytest.mark.postgres
async def test_one_claim_wins_on_postgres() -> None:
    async with fresh_database() as url:
        await _claims(url)
