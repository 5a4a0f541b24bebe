"""Per-network report settings: nudges, how far back a report may go, the weekend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.reports.rules import (
    COUNTRY_WEEKENDS,
    DEFAULT_WEEKEND,
    NUDGE_HOURS,
    tz_of,
)
from storage.models import Network
from storage.models.reports import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_NUDGE_DAYS,
    MAX_AGE_CHOICES,
    NUDGE_DAY_CHOICES,
    ReportSettings,
)
from storage.repositories import audit
from storage.repositories import reports as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportSettingsView:
    """A network's report settings, with the defaults filled in."""

    network_id: int
    nudge_enabled: bool = False
    nudge_days: int = DEFAULT_NUDGE_DAYS
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    weekend: str | None = None

    @classmethod
    def of(cls, network_id: int, row: ReportSettings | None) -> ReportSettingsView:
        if row is None:
            return cls(network_id)
        return cls(network_id, row.nudge_enabled, row.nudge_days, row.max_age_days, row.weekend)


async def get_settings(session: AsyncSession, network_id: int) -> ReportSettingsView:
    return ReportSettingsView.of(network_id, await repo.get_settings(session, network_id))


def weekend_days(network: Network, weekend: str | None) -> tuple[int, ...]:
    if weekend:
        try:
            days = tuple(sorted({int(d) for d in weekend.split(",") if d.strip()}))
            if all(0 <= d <= 6 for d in days):
                return days
        except ValueError:
            log.warning("network %s: bad weekend setting %r", network.id, weekend)
    return COUNTRY_WEEKENDS.get(network.country, DEFAULT_WEEKEND)


def week_start(network: Network, weekend: str | None) -> int:
    """The weekday a week starts on: the day after the weekend (Monday in Lebanon,
    Sunday in Jordan)."""
    days = weekend_days(network, weekend)
    for day in days:
        if (day + 1) % 7 not in days:
            return (day + 1) % 7
    return 0


def in_nudge_window(network: Network, weekend: str | None, now: datetime) -> bool:
    local = now.astimezone(tz_of(network))
    if local.weekday() in weekend_days(network, weekend):
        return False
    return NUDGE_HOURS[0] <= local.hour < NUDGE_HOURS[1]


async def change_settings(
    session: AsyncSession, actor: Actor, network_id: int, key: str, value: int, now: datetime
) -> ReportSettingsView:
    actor.require_coordinator(network_id)
    if key == "nudge" and value in (0, 1):
        changes: dict[str, Any] = {"nudge_enabled": bool(value)}
    elif key == "days" and value in NUDGE_DAY_CHOICES:
        changes = {"nudge_days": value}
    elif key == "age" and value in MAX_AGE_CHOICES:
        changes = {"max_age_days": value}
    else:
        raise ValueError(f"unknown report setting {key}={value}")
    row = await repo.save_settings(session, network_id, now, **changes)
    await audit.record(
        session,
        "report_settings",
        actor_id=actor.user.id if actor.user else None,
        network_id=network_id,
        **changes,
    )
    await session.commit()
    return ReportSettingsView.of(network_id, row)
