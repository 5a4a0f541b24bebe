"""Broadcast audiences and history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastNetwork,
    Delivery,
    DeliveryStatus,
    Membership,
    MembershipStatus,
    User,
)


@dataclass(frozen=True)
class Audience:
    network_ids: tuple[int, ...]
    roles: tuple[str, ...] | None = None  # None: every role
    sectors: tuple[str, ...] | None = None  # None: every sector

    def as_json(self) -> dict[str, Any]:
        return {
            "networks": list(self.network_ids),
            "roles": list(self.roles) if self.roles else None,
            "sectors": list(self.sectors) if self.sectors else None,
        }


Members = Select[int, int, str | None, datetime | None]  # id, tg_id, language, unreachable


def _members(audience: Audience) -> Members:
    query: Members = (
        select(User.id, User.tg_id, User.language, User.unreachable_since)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.network_id.in_(audience.network_ids),
            Membership.status == MembershipStatus.ACTIVE,
        )
    )
    if audience.roles:
        query = query.where(Membership.role.in_(audience.roles))
    if audience.sectors:
        query = query.where(Membership.sector.in_(audience.sectors))
    return query


async def recipients(
    session: AsyncSession, audience: Audience
) -> Sequence[tuple[int, int, str | None, bool]]:
    """(user id, chat id, language, unreachable) of each person in the audience, once."""
    rows = (await session.execute(_members(audience).order_by(User.id))).all()
    seen: set[int] = set()
    out = []
    for user_id, tg_id, language, unreachable_since in rows:
        if user_id not in seen:  # a person in two of the chosen networks gets it once
            seen.add(user_id)
            out.append((user_id, tg_id, language, unreachable_since is not None))
    return out


async def count(session: AsyncSession, audience: Audience) -> tuple[int, int]:
    """(people reached, of whom unreachable) for the preview."""
    sub = _members(audience).subquery()
    row = (
        await session.execute(
            select(
                func.count(distinct(sub.c.id)),
                func.count(distinct(sub.c.id)).filter(sub.c.unreachable_since.is_not(None)),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def add(
    session: AsyncSession,
    *,
    job_id: int,
    author_id: int | None,
    audience: Audience,
    kind: str,
    preview: str,
) -> Broadcast:
    broadcast = Broadcast(
        job_id=job_id, author_id=author_id, audience=audience.as_json(), kind=kind,
        preview=preview[:200],
    )
    session.add(broadcast)
    await session.flush()
    session.add_all(
        BroadcastNetwork(broadcast_id=broadcast.id, network_id=n) for n in audience.network_ids
    )
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def network_ids(session: AsyncSession, broadcast_id: int) -> list[int]:
    return list(
        (
            await session.scalars(
                select(BroadcastNetwork.network_id).where(
                    BroadcastNetwork.broadcast_id == broadcast_id
                )
            )
        ).all()
    )


async def recent(
    session: AsyncSession, network_ids: Sequence[int] | None, limit: int = 10
) -> Sequence[Broadcast]:
    """The latest broadcasts to any of these networks (None: every network)."""
    query = select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
    if network_ids is not None:
        query = query.where(
            Broadcast.id.in_(
                select(BroadcastNetwork.broadcast_id).where(
                    BroadcastNetwork.network_id.in_(network_ids)
                )
            )
        )
    return (await session.scalars(query.limit(limit))).all()


@dataclass(frozen=True)
class Totals:
    delivered: int = 0
    understood: int = 0
    blocked: int = 0
    failed: int = 0
    pending: int = 0


async def totals(session: AsyncSession, job_ids: Sequence[int]) -> dict[int, Totals]:
    """Counts for several jobs in one GROUP BY."""
    if not job_ids:
        return {}
    rows = (
        await session.execute(
            select(
                Delivery.job_id, Delivery.status, func.count(), func.count(Delivery.acked_at)
            )
            .where(Delivery.job_id.in_(job_ids))
            .group_by(Delivery.job_id, Delivery.status)
        )
    ).all()
    acc: dict[int, dict[str, int]] = {j: {} for j in job_ids}
    for job_id, status, n, acks in rows:
        acc[job_id][status] = int(n)
        acc[job_id]["acked"] = acc[job_id].get("acked", 0) + int(acks)
    return {
        job_id: Totals(
            delivered=c.get(DeliveryStatus.SENT, 0),
            understood=c.get("acked", 0),
            blocked=c.get(DeliveryStatus.BLOCKED, 0),
            failed=c.get(DeliveryStatus.FAILED, 0),
            pending=c.get(DeliveryStatus.PENDING, 0) + c.get(DeliveryStatus.SENDING, 0),
        )
        for job_id, c in acc.items()
    }
