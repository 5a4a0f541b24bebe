"""Reports: limits, problems, and the checks of a draft (dates, numbers, texts)."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, timedelta
from typing import Any

from bot.text.formats import to_ascii_digits
from bot.text.times import network_zone as tz_of
from storage.models import Network
from storage.models.reports import (
    DESCRIPTION_MAX,
    MAX_PARTICIPANTS,
    NOTE_MAX,
    ActivityType,
    AgeGroup,
    AttachmentKind,
    Report,
)

EDIT_WINDOW = timedelta(hours=24)
PAGE_SIZE = 8
MY_REPORTS_SHOWN = 10
# Notices to coordinators: batched once no new report came for NOTIFY_QUIET, at the latest
# NOTIFY_MAX_WAIT after the first one; the job looks every NOTIFY_INTERVAL seconds.
NOTIFY_INTERVAL = 5
NOTIFY_QUIET = timedelta(seconds=3)
NOTIFY_MAX_WAIT = timedelta(seconds=60)
NOTICE_LINES = 15
NOTICE_BUTTONS = 6
# Nudges go out between these local hours, not on the network's weekend.
NUDGE_HOURS = (10, 18)
NUDGE_RUN_GAP = timedelta(minutes=30)
# Python weekday numbers (Monday 0): Lebanon rests on Saturday and Sunday, Jordan on
# Friday and Saturday. A network may override its country's default (report_settings).
COUNTRY_WEEKENDS: dict[str, tuple[int, ...]] = {"LB": (5, 6), "JO": (4, 5)}
DEFAULT_WEEKEND: tuple[int, ...] = (5, 6)

NOTICE_KIND = "report_notice"
NUDGE_KIND = "report_nudge"

_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_GROUPED_RE = re.compile(r"^\d{1,3}(?:[ ,.'\u066c\u00a0\u202f]\d{3})+$")


class Problem(enum.StrEnum):
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    TOO_OLD = "too_old"
    NOT_A_NUMBER = "not_a_number"
    TOO_MANY = "too_many"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    INCOMPLETE = "incomplete"
    TOO_LATE = "too_late"
    GONE = "gone"
    BAD_RANGE = "bad_range"


class ReportError(ValueError):
    """Something the member or coordinator can fix; `info` holds the numbers to say."""

    def __init__(self, problem: Problem, **info: Any) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.info = info


# ------------------------------------------------------------------------ the draft

# FSM data of the dialog (JSON only): network_id, type, date (ISO), participants, age
# ("" = not said), description, file_kind, file_id, edit_id (a report being fixed).
Draft = dict[str, Any]


SNIPPET_CHARS = 40


def local_today(network: Network, now: datetime) -> date:
    return now.astimezone(tz_of(network)).date()


def days_ago(network: Network, now: datetime, days: int) -> date:
    """The network's local date `days` days ago (the "today" and "yesterday" buttons)."""
    return local_today(network, now) - timedelta(days=days)


def check_date(day: date, today: date, max_age_days: int) -> date:
    if day > today:
        raise ReportError(Problem.FUTURE_DATE)
    if (today - day).days > max_age_days:
        raise ReportError(Problem.TOO_OLD, days=max_age_days)
    return day


def parse_date(text: str, today: date, max_age_days: int) -> date:
    match = _DATE_RE.match(to_ascii_digits(text.strip()))
    if match is None:
        raise ReportError(Problem.BAD_DATE, example=today.isoformat())
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as exc:
        raise ReportError(Problem.BAD_DATE, example=today.isoformat()) from exc
    return check_date(day, today, max_age_days)


def parse_range(text: str) -> tuple[date, date]:
    """Two dates typed as YYYY-MM-DD (any digits, anything between them), for an export.
    ValueError when there are not two dates; ReportError(BAD_RANGE) when the first is
    after the second."""
    found = _DAY_RE.findall(to_ascii_digits(text))
    if len(found) != 2:
        raise ValueError(text)
    since, until = (date.fromisoformat(_pad(day)) for day in found)
    if since > until:
        raise ReportError(Problem.BAD_RANGE)
    return since, until


def _pad(day: str) -> str:
    y, m, d = day.split("-")
    return f"{y}-{int(m):02d}-{int(d):02d}"


def parse_participants(text: str) -> int:
    """A whole number 0..10,000; thousands may be grouped (1,200). Anything else, such as
    "about 20", is refused so the member says what they mean."""
    value = to_ascii_digits(text.strip())
    if _GROUPED_RE.match(value):
        value = re.sub(r"\D", "", value)
    if not value.isascii() or not value.isdigit():
        raise ReportError(Problem.NOT_A_NUMBER)
    number = int(value)
    if number > MAX_PARTICIPANTS:
        raise ReportError(Problem.TOO_MANY, max=MAX_PARTICIPANTS)
    return number


def clean_description(text: str) -> str:
    value = text.strip()
    if not value:
        raise ReportError(Problem.EMPTY)
    if len(value) > DESCRIPTION_MAX:
        raise ReportError(Problem.TOO_LONG, length=len(value), max=DESCRIPTION_MAX)
    return value


def clean_note(text: str) -> str:
    value = text.strip()
    if not value:
        raise ReportError(Problem.EMPTY)
    if len(value) > NOTE_MAX:
        raise ReportError(Problem.TOO_LONG, length=len(value), max=NOTE_MAX)
    return value


def draft_from(report: Report) -> Draft:
    return {
        "network_id": report.network_id,
        "type": report.activity_type,
        "date": report.activity_date.isoformat(),
        "participants": report.participants,
        "age": report.age_group or "",
        "description": report.description,
        "file_kind": report.attachment_kind,
        "file_id": report.attachment_file_id,
        "action_id": report.action_id,
        "edit_id": report.id,
    }


def _validated(draft: Draft, today: date, max_age_days: int) -> dict[str, Any]:
    """The report's columns from a complete draft; ReportError(INCOMPLETE) if a part is
    missing or was tampered with."""
    try:
        activity_type = ActivityType(draft["type"])
        day = date.fromisoformat(draft["date"])
        participants = int(draft["participants"])
        age = AgeGroup(draft["age"]) if draft.get("age") else None
        description = clean_description(str(draft["description"]))
        kind = AttachmentKind(draft["file_kind"]) if draft.get("file_kind") else None
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReportError):
            raise
        raise ReportError(Problem.INCOMPLETE) from exc
    if not 0 <= participants <= MAX_PARTICIPANTS:
        raise ReportError(Problem.INCOMPLETE)
    file_id = str(draft["file_id"]) if kind is not None and draft.get("file_id") else None
    return {
        "activity_type": activity_type.value,
        "activity_date": check_date(day, today, max_age_days),
        "participants": participants,
        "age_group": age.value if age else None,
        "description": description,
        "attachment_kind": kind.value if kind and file_id else None,
        "attachment_file_id": file_id,
    }
