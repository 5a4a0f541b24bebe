from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


async def claim(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record the update_id; False when it was already handled (a redelivery).

    Call it first in a fresh session: a duplicate rolls the session's transaction back."""
    try:
        await session.execute(insert(ProcessedUpdate).values(update_id=update_id, received_at=now))
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def claim_many(session: AsyncSession, update_ids: Sequence[int], now: datetime) -> None:
    """Record several update_ids at once; IntegrityError if any was recorded before."""
    if update_ids:
        await session.execute(
            insert(ProcessedUpdate),
            [{"update_id": u, "received_at": now} for u in update_ids],
        )


async def prune(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
