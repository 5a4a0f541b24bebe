"""Digests: labels of the schedule and of the last send."""

from __future__ import annotations

from datetime import datetime

from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime, format_skeleton, get_day_names

from bot.services.digests.weeks import zone
from storage.models import Network
from storage.models.digests import Digest
from storage.repositories import digests as repo
from storage.repositories.digests import (
    Schedule,
)


def schedule_label(schedule: Schedule, locale: str) -> str:
    day = get_day_names("wide", locale=locale)[schedule.weekday]
    hour = format_skeleton("Hm", datetime(2000, 1, 1, schedule.hour), locale=locale)
    return _("every {day} at {hour}").format(day=day, hour=hour)


def sent_label(row: Digest | None, network: Network, locale: str) -> str:
    """This week's digest: when it went out, or that it has not yet."""
    if row is None or row.status != repo.SENT or row.sent_at is None:
        return _("This week's digest has not gone out yet.")
    when = format_datetime(row.sent_at, "EEEE HH:mm", tzinfo=zone(network), locale=locale)
    return _("This week's digest went out on {when}.").format(when=when)
