from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Membership, User


async def get_by_tg_id(session: AsyncSession, tg_id: int) -> User | None:
    """The user with their memberships and networks, in one query."""
    result = await session.execute(
        select(User)
        .where(User.tg_id == tg_id)
        .options(joinedload(User.memberships).joinedload(Membership.network))
        .execution_options(populate_existing=True)
    )
    return result.unique().scalar_one_or_none()


async def get_or_create(session: AsyncSession, tg_id: int) -> User:
    user = await get_by_tg_id(session, tg_id)
    if user is None:
        user = User(tg_id=tg_id, memberships=[])
        session.add(user)
        await session.flush()
    return user


async def set_language(session: AsyncSession, user: User, language: str) -> None:
    user.language = language
    await session.flush()


async def clear_unreachable(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(unreachable_since=None)
    )


async def mark_unreachable(session: AsyncSession, user_ids: Sequence[int], at: datetime) -> None:
    if user_ids:
        await session.execute(
            update(User)
            .where(User.id.in_(user_ids), User.unreachable_since.is_(None))
            .values(unreachable_since=at)
        )


async def delete_user(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(User).where(User.id == user_id))


async def get_many(session: AsyncSession, ids: Sequence[int]) -> Sequence[User]:
    if not ids:
        return []
    return (await session.scalars(select(User).where(User.id.in_(ids)))).all()


async def language_of(session: AsyncSession, tg_id: int) -> str | None:
    return await session.scalar(select(User.language).where(User.tg_id == tg_id))


async def language_by_id(session: AsyncSession, user_id: int) -> str | None:
    return await session.scalar(select(User.language).where(User.id == user_id))
