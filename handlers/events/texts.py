"""Texts of the events dialogs."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.dates import get_timezone_location

from bot.keyboards import events as kb
from bot.services import events
from bot.services.events import EventError, Problem
from handlers.events.states import EXAMPLE_HOUR
from storage.models import utcnow


def zone_label(tz_name: str, locale: str) -> str:
    return str(get_timezone_location(ZoneInfo(tz_name), locale=locale))


def example_datetime(tz_name: str) -> str:
    tomorrow = (utcnow().astimezone(ZoneInfo(tz_name)) + timedelta(days=1)).date()
    return f"{tomorrow.isoformat()} {EXAMPLE_HOUR}:00"


def problem_text(exc: EventError, tz_name: str | None = None, *, step: str = "") -> str:
    """What to tell the person about a refused value or action."""
    problem = exc.problem
    if problem == Problem.FORMAT:
        if step == "time":
            return _("Please type the time as HH:MM, for example 17:00.")
        if step == "end":
            return _(
                "Please type the end time as HH:MM, a length such as 90 (minutes), "
                "2 (hours), 1h30 or 1.5h, or the end date and time as YYYY-MM-DD HH:MM."
            )
        return _(
            "Please type the date and time as YYYY-MM-DD HH:MM, for example {example}."
        ).format(example=example_datetime(tz_name or "UTC"))
    if problem == Problem.NONEXISTENT:
        wall = exc.details.get("wall")
        return _(
            "{time} does not exist in {zone}: the clocks change that night. "
            "Please choose another time."
        ).format(
            time=wall.strftime("%Y-%m-%d %H:%M") if isinstance(wall, datetime) else "",
            zone=zone_label(tz_name or "UTC", _locale()),
        )
    simple = {
        Problem.PAST: _("This time has already passed. Please choose a time in the future."),
        Problem.TOO_FAR: _("Please choose a date within the next year."),
        Problem.END_BEFORE_START: _("The end must be after the start. Please try again."),
        Problem.TOO_LONG: _("An event can last at most 7 days. Please try again."),
        Problem.TEXT_EMPTY: _("Please type it as ordinary text, on one line."),
        Problem.OFFSETS: _(
            "Please send up to {n} times between 1 minute and 14 days, such as "
            "<code>1d 3h 30m</code>, or <code>none</code> for no reminders."
        ).format(n=events.MAX_OFFSETS),
        Problem.CANCELLED: _("This event was cancelled."),
        Problem.STARTED: _("This event has already started; it can no longer be changed."),
        Problem.OVER: _("This event is over."),
        Problem.NOT_STARTED: _("Attendance can be marked once the event has started."),
        Problem.CHANGED: _("Someone else changed this event meanwhile. Please open it again."),
    }
    if problem == Problem.TEXT_TOO_LONG:
        return _("That is {length} characters; please keep it to {limit}.").format(
            length=exc.details.get("length", 0), limit=exc.details.get("limit", 0)
        )
    return simple.get(problem, _("Please try again."))


def _locale() -> str:
    from aiogram.utils.i18n import get_i18n

    return get_i18n().current_locale


def lengths_offered() -> list[tuple[int, str]]:
    return [(m, events.duration_label(m)) for m in kb.LENGTHS]
