"""Action plans: what a coordinator may type and choose, months, due dates, problems."""

from __future__ import annotations

import calendar
import enum
import re
from datetime import date, datetime, timedelta
from typing import Any

from bot.text.formats import to_ascii_digits
from bot.text.times import network_zone
from storage.models import Network
from storage.models.plans import AIM_MAX, MILESTONE_MAX, TITLE_MAX, ActionStatus

STATUSES = tuple(s.value for s in ActionStatus)
MONTHS_BACK = 3  # start months offered before the current one
MONTHS_OFFERED = 12
DUE_MAX_DAYS = 3 * 366
REMIND_HOURS = (10, 18)  # local hours in which overdue milestones are reminded
REMIND_EVERY_DAYS = 7  # an overdue milestone is reminded again a week later
REMIND_KIND = "plan_milestone"
_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class Problem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_DATE = "bad_date"
    PAST_DATE = "past_date"
    FAR_DATE = "far_date"
    BAD_MONTHS = "bad_months"
    TOO_MANY = "too_many"
    INCOMPLETE = "incomplete"
    GONE = "gone"
    MILESTONE_GONE = "milestone_gone"


class PlanError(Exception):
    def __init__(self, problem: Problem, **info: Any) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.info = info


def local_today(network: Network, now: datetime) -> date:
    return now.astimezone(network_zone(network)).date()


def _clean(text: str, limit: int) -> str:
    value = " ".join(text.split())
    if not value:
        raise PlanError(Problem.EMPTY)
    if len(value) > limit:
        raise PlanError(Problem.TOO_LONG, length=len(value), max=limit)
    return value


def clean_title(text: str) -> str:
    return _clean(text, TITLE_MAX)


def clean_aim(text: str) -> str:
    return _clean(text, AIM_MAX)


def clean_milestone(text: str) -> str:
    return _clean(text, MILESTONE_MAX)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def start_months(today: date) -> list[date]:
    first = add_months(month_start(today), -MONTHS_BACK)
    return [add_months(first, i) for i in range(MONTHS_OFFERED)]


def edit_start_months(today: date, current: date) -> list[date]:
    """The start months offered when an action's months change: as when creating it, and
    its current start first when that is earlier (an action started long ago keeps it)."""
    months = start_months(today)
    return months if current in months else [current, *months]


def end_months(start: date) -> list[date]:
    return [add_months(start, i) for i in range(MONTHS_OFFERED)]


def parse_month(value: str) -> date:
    match = _MONTH.match(value or "")
    if not match:
        raise PlanError(Problem.INCOMPLETE)
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2100 or not 1 <= month <= 12:
        raise PlanError(Problem.INCOMPLETE)
    return date(year, month, 1)


def month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def check_due(day: date, today: date) -> date:
    if day < today:
        raise PlanError(Problem.PAST_DATE)
    if day > today + timedelta(days=DUE_MAX_DAYS):
        raise PlanError(Problem.FAR_DATE)
    return day


def parse_due(text: str, today: date) -> date:
    """A typed due date, YYYY-MM-DD (any digits), today or later."""
    match = _DATE.match(to_ascii_digits(text or ""))
    if not match:
        raise PlanError(Problem.BAD_DATE, example=(today + timedelta(days=14)).isoformat())
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        raise PlanError(Problem.BAD_DATE, example=today.isoformat()) from exc
    return check_due(day, today)


def due_choices(today: date, end_month: date) -> list[tuple[str, date]]:
    """(key, date) of the due-date buttons: in one and two weeks, a month, the action's end."""
    out = [
        ("1w", today + timedelta(days=7)),
        ("2w", today + timedelta(days=14)),
        ("1m", today + timedelta(days=30)),
    ]
    end = month_end(end_month)
    if end >= today:
        out.append(("end", end))
    return out


def days_left(end_month: date, today: date) -> int:
    """Days from today to the action's last day (negative: past its end)."""
    return (month_end(end_month) - today).days
