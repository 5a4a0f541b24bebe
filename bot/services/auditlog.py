"""Reading the audit log (admins only): who did what, with names resolved in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor
from storage.repositories import audit, networks, users

SHOWN = 30


@dataclass(frozen=True)
class Line:
    at: datetime
    action: str
    network: str | None
    actor: str | None  # a display name; None for the command line or an erased person


async def recent(session: AsyncSession, actor: Actor, limit: int = SHOWN) -> list[Line]:
    if not actor.is_admin:
        raise AccessDenied(f"user {actor.tg_id} may not read the audit log")
    entries = await audit.recent(session, None, limit=limit)
    people = {
        u.id: u.display_name
        for u in await users.get_many(session, sorted({e.actor_id for e in entries if e.actor_id}))
    }
    places = {
        n.id: n.name
        for n in await networks.list_by_ids(
            session, sorted({e.network_id for e in entries if e.network_id})
        )
    }
    return [
        Line(
            at=e.at,
            action=e.action,
            network=places.get(e.network_id) if e.network_id else None,
            actor=people.get(e.actor_id) if e.actor_id else None,
        )
        for e in entries
    ]
