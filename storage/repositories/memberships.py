from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Membership, MembershipStatus, Role, User


async def get(session: AsyncSession, membership_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.user), joinedload(Membership.network))
    )


async def find(session: AsyncSession, user_id: int, network_id: int) -> Membership | None:
    return await session.scalar(
        select(Membership).where(
            Membership.user_id == user_id, Membership.network_id == network_id
        )
    )


async def add(
    session: AsyncSession,
    *,
    user: User,
    network_id: int,
    role: str,
    status: str,
    sector: str,
    invite_id: int | None,
    now: datetime,
) -> Membership:
    membership = Membership(
        user_id=user.id,
        network_id=network_id,
        role=role,
        status=status,
        sector=sector,
        invite_id=invite_id,
        joined_at=now,
        approved_at=now if status == MembershipStatus.ACTIVE else None,
    )
    session.add(membership)
    await session.flush()
    return membership


async def remove(session: AsyncSession, membership_id: int) -> None:
    await session.execute(delete(Membership).where(Membership.id == membership_id))


async def coordinators(session: AsyncSession, network_id: int) -> Sequence[User]:
    return (
        await session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.network_id == network_id,
                Membership.role == Role.COORDINATOR,
                Membership.status == MembershipStatus.ACTIVE,
            )
            .order_by(User.id)
        )
    ).all()


async def members(session: AsyncSession, network_id: int) -> Sequence[Membership]:
    """Every membership of a network (pending ones too), with the user loaded."""
    return (
        await session.scalars(
            select(Membership)
            .where(Membership.network_id == network_id)
            .options(joinedload(Membership.user))
            .order_by(Membership.status, Membership.role, Membership.joined_at)
        )
    ).all()


async def count_active(session: AsyncSession, network_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(
                Membership.network_id == network_id,
                Membership.status == MembershipStatus.ACTIVE,
            )
        )
        or 0
    )


async def count_for_user(session: AsyncSession, user_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.user_id == user_id)
        )
        or 0
    )
