"""A person's own settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


async def stored_language(session_pool: async_sessionmaker[AsyncSession], tg_id: int) -> str | None:
    """The language a person chose, read in a session of its own (the update's may be
    what failed)."""
    async with session_pool() as session:
        return await users.language_of(session, tg_id)


async def mark_blocked(session_pool: async_sessionmaker[AsyncSession], actor: Actor) -> None:
    """They blocked the bot while it answered: skip them in mass sends (own session)."""
    if actor.user is None:
        return
    async with session_pool() as session:
        await users.mark_unreachable(session, [actor.user.id], utcnow())
        await session.commit()
