"""Per-network reminder offsets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.events.calendar import _actor_user_id
from bot.services.events.reminders import plan_reminders
from bot.services.events.rules import MAX_OFFSET_MINUTES, MAX_OFFSETS, EventError, Problem
from bot.services.networks import coordinated_network
from storage.repositories import audit
from storage.repositories import events as repo


async def reminder_settings(session: AsyncSession, actor: Actor, network_id: int) -> list[int]:
    await coordinated_network(session, actor, network_id)
    return await repo.reminder_offsets(session, network_id)


async def set_reminder_offsets(
    session: AsyncSession, actor: Actor, network_id: int, offsets: Sequence[int], now: datetime
) -> list[int]:
    """Store a network's reminder offsets and re-plan its coming events."""
    await coordinated_network(session, actor, network_id)
    wanted = sorted({int(m) for m in offsets}, reverse=True)
    if len(wanted) > MAX_OFFSETS or any(not 1 <= m <= MAX_OFFSET_MINUTES for m in wanted):
        raise EventError(Problem.OFFSETS)
    await repo.set_reminder_offsets(session, network_id, wanted, now)
    for event in await repo.future_of_network(session, network_id, now):
        await plan_reminders(session, event, now, wanted)
    await audit.record(
        session,
        "event_settings",
        actor_id=_actor_user_id(actor),
        network_id=network_id,
        reminder_offsets=wanted,
    )
    await session.commit()
    return wanted
