from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Invite


async def create(
    session: AsyncSession,
    *,
    code: str,
    network_id: int,
    role: str,
    max_uses: int,
    expires_at: datetime,
    created_by_id: int | None,
) -> Invite:
    invite = Invite(
        code=code,
        network_id=network_id,
        role=role,
        max_uses=max_uses,
        expires_at=expires_at,
        created_by_id=created_by_id,
    )
    session.add(invite)
    await session.flush()
    return invite


async def get_by_code(session: AsyncSession, code: str) -> Invite | None:
    return await session.scalar(
        select(Invite).where(Invite.code == code).execution_options(populate_existing=True)
    )


async def get(session: AsyncSession, invite_id: int) -> Invite | None:
    return await session.get(Invite, invite_id)


async def redeem(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """Take one use of the invite atomically; False if it is used up, revoked or expired."""
    result = await session.execute(
        update(Invite)
        .where(
            Invite.id == invite_id,
            Invite.uses < Invite.max_uses,
            Invite.revoked_at.is_(None),
            Invite.expires_at > now,
        )
        .values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
