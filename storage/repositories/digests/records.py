"""The once-a-week digest row: claimed before anything is sent, then marked."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Network
from storage.models.digests import (
    Digest,
)
from storage.repositories.digests.schedules import _DG, ABANDONED, CHUNK, CLAIMED, SENT


async def claim(
    session: AsyncSession,
    *,
    scope: str,
    network_id: int | None,
    week: date,
    trigger: str,
    as_of: datetime,
    worker_id: str,
    now: datetime,
) -> int | None:
    """Insert this week's row (status claimed); its id, or None if the week has one.

    The caller commits at once: the committed row is the lock. On PostgreSQL a second
    inserter waits for the first one's transaction and then fails on the constraint.
    """
    try:
        async with session.begin_nested():
            result = await session.execute(
                insert(_DG)
                .values(
                    scope=scope,
                    network_id=network_id,
                    week=week,
                    status=CLAIMED,
                    trigger=trigger,
                    as_of=as_of,
                    claimed_by=worker_id,
                    claimed_at=now,
                    recipients=0,
                    resends=0,
                    progress={},
                    job_ids={},
                    created_at=now,
                )
                .returning(_DG.c.id)
            )
            return int(result.scalar_one())
    except IntegrityError:
        return None


async def get(session: AsyncSession, scope: str, week: date) -> Digest | None:
    return await session.scalar(
        select(Digest)
        .where(Digest.scope == scope, Digest.week == week)
        .execution_options(populate_existing=True)
    )


async def get_by_id(session: AsyncSession, digest_id: int) -> Digest | None:
    return await session.get(Digest, digest_id, populate_existing=True)


async def of_weeks(
    session: AsyncSession, keys: Iterable[tuple[str, date]]
) -> dict[tuple[str, date], Digest]:
    """The rows of these (scope, week) pairs that exist, in one query per chunk."""
    wanted = list(keys)
    found: dict[tuple[str, date], Digest] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        condition = or_(false(), *(and_(_DG.c.scope == s, _DG.c.week == w) for s, w in chunk))
        rows = await session.scalars(
            select(Digest).where(condition).execution_options(populate_existing=True)
        )
        for row in rows:
            found[(row.scope, row.week)] = row
    return found


async def reclaim_for_resend(
    session: AsyncSession,
    digest_id: int,
    *,
    worker_id: str,
    as_of: datetime,
    now: datetime,
    trigger: str,
) -> bool:
    """A forced resend: a sent row goes back to claimed (once, if two try at once)."""
    result = await session.execute(
        update(_DG)
        .where(_DG.c.id == digest_id, _DG.c.status.in_((SENT, ABANDONED)))
        .values(
            status=CLAIMED,
            claimed_by=worker_id,
            claimed_at=now,
            as_of=as_of,
            trigger=trigger,
            resends=_DG.c.resends + 1,
            progress={},
            job_ids={},
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def take_over(
    session: AsyncSession,
    digest_id: int,
    *,
    worker_id: str,
    stale_before: datetime,
    now: datetime,
) -> bool:
    """A claimed row whose holder stopped (claim older than ``stale_before``)."""
    result = await session.execute(
        update(_DG)
        .where(
            _DG.c.id == digest_id,
            _DG.c.status == CLAIMED,
            _DG.c.claimed_at < stale_before,
        )
        .values(claimed_by=worker_id, claimed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def stale_claims(session: AsyncSession, stale_before: datetime) -> Sequence[Digest]:
    return (
        await session.scalars(
            select(Digest)
            .where(Digest.status == CLAIMED, Digest.claimed_at < stale_before)
            .order_by(Digest.id)
            .execution_options(populate_existing=True)
        )
    ).all()


async def set_status(session: AsyncSession, digest_id: int, status: str) -> None:
    await session.execute(update(_DG).where(_DG.c.id == digest_id).values(status=status))


@dataclass(frozen=True, slots=True)
class DigestRun:
    """The latest week's digest of one scope, as `prevnet status` shows it."""

    scope: str
    network: str | None  # the network's slug; None for the admins' digest
    week: date
    status: str
    trigger: str
    claimed_by: str | None
    claimed_at: datetime
    sent_at: datetime | None
    recipients: int
    resends: int


async def latest_runs(session: AsyncSession) -> list[DigestRun]:
    """Each scope's (network's, the admins') latest week: one query, the unique
    (scope, week) index serves the MAX per scope."""
    latest = (
        select(_DG.c.scope, func.max(_DG.c.week).label("week"))
        .group_by(_DG.c.scope)
        .subquery("latest")
    )
    rows = await session.execute(
        select(
            _DG.c.scope, Network.slug, _DG.c.week, _DG.c.status, _DG.c.trigger,
            _DG.c.claimed_by, _DG.c.claimed_at, _DG.c.sent_at, _DG.c.recipients,
            _DG.c.resends,
        )
        .join(latest, and_(_DG.c.scope == latest.c.scope, _DG.c.week == latest.c.week))
        .outerjoin(Network, Network.id == _DG.c.network_id)
        .order_by(Network.slug.is_(None), Network.slug, _DG.c.scope)
    )
    return [DigestRun(*row) for row in rows.all()]
