"""Digest schedules (weekday and hour per network) and the digest scopes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Network,
)
from storage.models.digests import (
    DEFAULT_HOUR,
    DEFAULT_WEEKDAY,
    Digest,
    DigestSettings,
    DigestStatus,
)

CHUNK = 500  # networks per IN list
CHART_WEEKS = 8
_DG = cast(Table, Digest.__table__)

CLAIMED = DigestStatus.CLAIMED.value
SENT = DigestStatus.SENT.value
ABANDONED = DigestStatus.ABANDONED.value


def network_scope(network_id: int) -> str:
    return f"network:{network_id}"


ADMIN_SCOPE = "admin"


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class Schedule:
    weekday: int = DEFAULT_WEEKDAY
    hour: int = DEFAULT_HOUR
    updated_at: datetime | None = None  # None: never changed (the default)


async def get_schedule(session: AsyncSession, network_id: int) -> Schedule:
    row = await session.get(DigestSettings, network_id, populate_existing=True)
    if row is None:
        return Schedule()
    return Schedule(row.weekday, row.hour, row.updated_at)


async def save_schedule(
    session: AsyncSession, network_id: int, now: datetime, *, weekday: int, hour: int
) -> Schedule:
    row = await session.get(DigestSettings, network_id, populate_existing=True)
    if row is None:
        row = DigestSettings(network_id=network_id)
        session.add(row)
    row.weekday, row.hour, row.updated_at = weekday, hour, now
    await session.flush()
    return Schedule(weekday, hour, now)


async def networks_with_schedules(
    session: AsyncSession, network_ids: Sequence[int] | None = None
) -> list[tuple[Network, Schedule]]:
    """Networks (all, or these) with their digest schedules, in one query."""
    query = (
        select(Network, DigestSettings)
        .outerjoin(DigestSettings, DigestSettings.network_id == Network.id)
        .order_by(Network.id)
        .execution_options(populate_existing=True)
    )
    if network_ids is not None:
        query = query.where(Network.id.in_(list(network_ids)))
    rows = (await session.execute(query)).all()
    out = []
    for network, settings in rows:
        schedule = (
            Schedule(settings.weekday, settings.hour, settings.updated_at)
            if settings is not None
            else Schedule()
        )
        out.append((network, schedule))
    return out
