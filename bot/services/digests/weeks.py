"""Digests: weeks, windows and due times in the network's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services.digests.sender import ADMIN_ZONE
from bot.text.times import network_zone as zone
from storage.models import Network
from storage.repositories.digests import (
    CHART_WEEKS,
    Schedule,
    Window,
)


def week_of(day: date) -> date:
    """The Monday of ``day``'s ISO week: the key of that week's digest."""
    return day - timedelta(days=day.weekday())


def window_for(tz: ZoneInfo, now: datetime) -> Window:
    """The seven days that end at ``now`` (today, local, and the six days before it: a
    report filed a minute ago counts), the chart's eight weeks ending today, and the next
    seven days from ``now``. Events and broadcasts count from ``now`` minus seven days,
    so one week's digest starts where the last one (at the same hour) stopped."""
    today = now.astimezone(tz).date()
    start = today - timedelta(days=6)
    return Window(
        start=start,
        end=today,
        chart_start=today - timedelta(days=7 * CHART_WEEKS - 1),
        since=now - timedelta(days=7),
        until=now,
        now=now,
    )


def current_week(network: Network, now: datetime) -> date:
    return week_of(now.astimezone(zone(network)).date())


def due_at(schedule: Schedule, tz: ZoneInfo, week: date) -> datetime:
    """When the digest of ``week`` is due: its weekday and hour, local, as UTC."""
    day = week + timedelta(days=schedule.weekday)
    return datetime.combine(day, time(schedule.hour), tzinfo=tz).astimezone(UTC)


def next_due(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime:
    week = week_of(now.astimezone(tz).date())
    moment = due_at(schedule, tz, week)
    return moment if moment > now else due_at(schedule, tz, week + timedelta(days=7))


def admin_week(now: datetime) -> date:
    return week_of(now.astimezone(ZoneInfo(ADMIN_ZONE)).date())
