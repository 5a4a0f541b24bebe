from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record the update_id; False when it was already handled (a redelivery)."""
    try:
        async with session.begin_nested():
            await session.execute(
                insert(ProcessedUpdate).values(update_id=update_id, received_at=now)
            )
    except IntegrityError:
        return False
    return True


async def prune(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
