"""A person's own settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services.access import Actor
from storage.models import utcnow
from storage.repositories import users


async def set_language(session: AsyncSession, actor: Actor, code: str) -> None:
    """Remember the language. A stranger gets a row holding only their id and language."""
    if code not in SUPPORTED_LOCALES:
        raise ValueError(code)
    user = actor.user or await users.get_or_create(session, actor.tg_id)
    await users.set_language(session, user, code)
    await session.commit()


async def set_reachable(session: AsyncSession, actor: Actor, *, reachable: bool) -> None:
    """Blocked people are skipped by mass sends until they unblock or write again."""
    if actor.user is None:
        return  # nothing stored about them, nothing to mark
    if reachable:
        await users.clear_unreachable(session, actor.user.id)
    else:
        await users.mark_unreachable(session, [actor.user.id], utcnow())
    await session.commit()
