from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    subject_id: int | None = None,
    network_id: int | None = None,
    **details: Any,
) -> None:
    session.add(
        AuditEntry(
            action=action,
            actor_id=actor_id,
            subject_id=subject_id,
            network_id=network_id,
            details=details,
        )
    )
    await session.flush()


async def about_user(session: AsyncSession, user_id: int) -> Sequence[AuditEntry]:
    return (
        await session.scalars(
            select(AuditEntry)
            .where(or_(AuditEntry.actor_id == user_id, AuditEntry.subject_id == user_id))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    ).all()


async def recent(
    session: AsyncSession, network_ids: Sequence[int] | None = None, limit: int = 50
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if network_ids is not None:
        query = query.where(AuditEntry.network_id.in_(network_ids))
    return (await session.scalars(query)).all()
