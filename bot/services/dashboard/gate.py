"""A bulkhead between the dashboard and the bot's handlers: the dashboard's requests run in
the bot's process on the bot's database pool, so at most a share of the pool's
connections may be held by them at once; the rest is always there for members' taps.

Measured by bench/dashboard.py (README "Benchmarks"): ten coordinators walking the
dashboard in a closed loop took every connection of SQLite's pool of ten, and members'
updates waited for one; behind the gate the dashboard's requests queue here instead.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

POOL_SHARE = 0.5  # of the pool's connections (size + overflow), at least one
UNBOUNDED_POOL = 4  # requests at once where the pool has no fixed size (in-memory SQLite)


def pool_capacity(engine: AsyncEngine) -> int | None:
    """Connections the engine's pool hands out at most (pool size + overflow), or None
    when it has no such bound."""
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", None)
    if not callable(size) or not isinstance(overflow, int):
        return None
    return int(size()) + max(0, overflow)


def dashboard_slots(session_pool: async_sessionmaker[AsyncSession]) -> int:
    """How many dashboard requests may hold a connection at once."""
    bind = session_pool.kw.get("bind")
    capacity = pool_capacity(bind) if isinstance(bind, AsyncEngine) else None
    if capacity is None:
        return UNBOUNDED_POOL
    return max(1, int(capacity * POOL_SHARE))


def dashboard_gate(session_pool: async_sessionmaker[AsyncSession]) -> asyncio.Semaphore:
    return asyncio.Semaphore(dashboard_slots(session_pool))
