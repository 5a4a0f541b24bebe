"""The dashboard shares the bot's process and database pool with members' taps (measured by
bench/dashboard.py): its requests hold at most half of the pool at once, and the overview
counts its week in a fixed handful of statements, as the digest counts it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.digest_admin import admin_row
from bot.services.dashboard import dashboard_slots
from bot.services.dashboard.figures import _week_figures
from bot.services.dashboard.scope import Scope
from bot.services.digests.building import build
from storage.repositories import dashboard as repo
from storage.repositories import networks
from tests.dashboard_helpers import ADMIN, IRBID_COORDINATOR, Running, running_dashboard

API = "/app/api/"


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Running]:
    async with running_dashboard(tmp_path) as running:
        yield running


def engine_of(dash: Running) -> AsyncEngine:
    bind = dash.session_pool.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


@contextmanager
def checked_out(engine: AsyncEngine) -> Iterator[dict[str, int]]:
    """The most connections checked out at once, and the statements run, meanwhile."""
    seen = {"now": 0, "peak": 0, "statements": 0}

    def checkout(*_: object) -> None:
        seen["now"] += 1
        seen["peak"] = max(seen["peak"], seen["now"])

    def checkin(*_: object) -> None:
        seen["now"] -= 1

    def statement(*_: object) -> None:
        seen["statements"] += 1

    sync = engine.sync_engine
    event.listen(sync, "checkout", checkout)
    event.listen(sync, "checkin", checkin)
    event.listen(sync, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(sync, "checkout", checkout)
        event.remove(sync, "checkin", checkin)
        event.remove(sync, "before_cursor_execute", statement)


async def get(http: aiohttp.ClientSession, dash: Running, who: int, path: str) -> int:
    headers = dash.headers(who)
    async with http.get(dash.base_url + API + path, headers=headers) as response:
        await response.read()
        return response.status


async def test_many_dashboard_requests_hold_at_most_half_the_pool(dash: Running) -> None:
    engine = engine_of(dash)
    capacity = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    assert capacity == 10  # SQLite's default pool: 5 + 5
    assert dashboard_slots(dash.session_pool) == 5
    net = str(dash.world.irbid)
    paths = [f"overview?net={net}", f"participation?net={net}", f"trends?net={net}&weeks=52",
             f"events?net={net}", f"reports?net={net}"]
    async with aiohttp.ClientSession() as http:
        with checked_out(engine) as seen:
            statuses = await asyncio.gather(
                *(get(http, dash, IRBID_COORDINATOR, paths[i % len(paths)]) for i in range(40))
            )
    assert statuses == [200] * 40
    # Forty at once would take all ten connections (members' taps then wait for one);
    # the gate keeps five for the bot.
    assert 1 < seen["peak"] <= 5, seen


async def test_without_the_gate_the_same_requests_take_the_whole_pool(dash: Running) -> None:
    """What the gate prevents (so the test above can fail): an unbounded gate."""
    dash.dashboard.gate = asyncio.Semaphore(1000)
    engine = engine_of(dash)
    net = str(dash.world.irbid)
    async with aiohttp.ClientSession() as http:
        with checked_out(engine) as seen:
            statuses = await asyncio.gather(
                *(get(http, dash, IRBID_COORDINATOR, f"overview?net={net}") for _ in range(40))
            )
    assert statuses == [200] * 40
    assert seen["peak"] > 5, seen


async def test_the_overview_takes_a_handful_of_statements_for_any_number_of_networks(
    dash: Running,
) -> None:
    """It once built two whole digests (names, events, broadcasts, plans: 25 statements)
    to read four numbers."""
    engine = engine_of(dash)
    async with aiohttp.ClientSession() as http:
        await get(http, dash, IRBID_COORDINATOR, f"overview?net={dash.world.irbid}")  # views
        await get(http, dash, ADMIN, "overview?net=all")  # logged once, then not again
        with checked_out(engine) as one:
            assert await get(http, dash, IRBID_COORDINATOR,
                             f"overview?net={dash.world.irbid}") == 200
        with checked_out(engine) as every:
            assert await get(http, dash, ADMIN, "overview?net=all") == 200
    assert one["statements"] <= 10, one
    assert every["statements"] <= one["statements"] + 1, (one, every)


async def test_the_overview_counts_the_week_as_the_digest_does(dash: Running) -> None:
    """The lean counts agree with the digest's collector for each network and for all of
    them, this week and the week before (a coordinator's report is not a member's)."""
    now = datetime.now(UTC)
    async with dash.session_pool() as session:
        found = list(await networks.list_all(session))
        members = await repo.member_counts(session, [n.id for n in found])
        for moment in (now, now - timedelta(days=7), now - timedelta(days=3)):
            digests = await build(session, found, moment)
            for scope in [Scope([n], all=False) for n in found] + [Scope(found, all=True)]:
                rows = [admin_row(digests[n.id]) for n in scope.networks]
                expected_members = sum(r.members for r in rows)
                expected_reporters = sum(r.active for r in rows)
                expected = {
                    "activities": sum(r.activities for r in rows),
                    "participants": sum(r.participants for r in rows),
                    "reporters": expected_reporters,
                    "members": expected_members,
                    "rate": round(expected_reporters / expected_members, 4)
                    if expected_members else 0,
                }
                assert await _week_figures(session, scope, moment, members) == expected
    assert expected["activities"] > 0 and expected["reporters"] > 0
