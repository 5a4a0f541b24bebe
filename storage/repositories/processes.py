"""Heartbeats of the bot's processes (storage/models/processes.py, bot/heartbeat.py).

A process writes only its own row, so the upsert needs no locking: UPDATE, else INSERT
(else UPDATE again, should the row appear in between). Portable SQL; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Process


async def beat(
    session: AsyncSession,
    *,
    process_id: str,
    role: str,
    host: str,
    pid: int,
    started_at: datetime,
    now: datetime,
) -> None:
    """This process is alive at ``now``: its row's ``last_seen``, made if missing."""
    stmt = (
        update(Process)
        .where(Process.id == process_id)
        .values(last_seen=now)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(stmt)).rowcount:  # type: ignore[attr-defined]
        return
    try:
        async with session.begin_nested():
            await session.execute(
                insert(Process).values(
                    id=process_id,
                    role=role,
                    host=host[:255],
                    pid=pid,
                    started_at=started_at,
                    last_seen=now,
                )
            )
    except IntegrityError:
        await session.execute(stmt)


async def remove(session: AsyncSession, process_id: str) -> bool:
    """A clean stop: the row goes. False when there was none."""
    result = await session.execute(delete(Process).where(Process.id == process_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def seen_since(session: AsyncSession, since: datetime) -> Sequence[Process]:
    """Processes seen at or after ``since``, by role and start."""
    return (
        await session.scalars(
            select(Process)
            .where(Process.last_seen >= since)
            .order_by(Process.role, Process.started_at, Process.id)
        )
    ).all()


async def alive(session: AsyncSession, *, now: datetime, within: timedelta) -> Sequence[Process]:
    """Processes alive: seen within ``within`` (the alive threshold) before ``now``."""
    return await seen_since(session, now - within)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Rows of processes not seen since ``before`` (they died without a clean stop)."""
    result = await session.execute(delete(Process).where(Process.last_seen < before))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def forget_all(session: AsyncSession) -> int:
    """Every row: a database just restored from a backup has no process running on it."""
    result = await session.execute(delete(Process))
    return int(result.rowcount)  # type: ignore[attr-defined]
