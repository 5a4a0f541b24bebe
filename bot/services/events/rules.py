"""Events: limits, problems, and the parsing and checks of what people type."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.text.formats import to_ascii_digits

TITLE_MAX = 100
PLACE_MAX = 150
DESCRIPTION_MAX = 500
MAX_DURATION = timedelta(days=7)
MAX_AHEAD = timedelta(days=366)
MAX_OFFSETS = 6
MAX_OFFSET_MINUTES = 14 * 24 * 60
CAPTION_MAX = 1024
TEXT_MAX = 4096
LEASE = timedelta(minutes=2)  # a claimed reminder not finished by then is taken over
TICK_SECONDS = 5
CLAIM_BATCH = 100
ATTENDANCE_WINDOW = timedelta(days=30)  # how long after the start attendance is marked
JOB_ID = "event_reminders"
NEXT_JOB_ID = "event_reminders_next"

DATETIME_RE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]+(\d{1,2})[:.h](\d{2})\s*$")
TIME_RE = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")
DURATION_RE = re.compile(
    r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+(?:\.\d+)?)h(\d{1,2}(?!\d))?)?(?:(\d+)m)?$"
)
BARE_NUMBER_RE = re.compile(r"^(\d+|\d{1,2}\.\d)$")  # 90, 2, 1.5 (1.30 is a time)
BARE_HOURS_MAX = 12  # a bare number up to 12 is hours, above it minutes
# Unit words typed in English, French and Arabic, as the letters DURATION_RE reads.
_UNIT_WORDS = (
    ("m", r"minutes?|mins?|mn|دقيقة|دقيقه|دقائق"),
    ("h", r"hours?|hrs?|heures?|ساعة|ساعه|ساعات"),
    ("d", r"days?|jours?|يوم|أيام|ايام"),
    ("w", r"weeks?|semaines?|أسبوع|اسبوع|أسابيع"),
)
_UNIT_RES = [
    (letter, re.compile(rf"(?<=\d)\s*(?:{words})(?![a-z])")) for letter, words in _UNIT_WORDS
]
# Lengths said in words (Arabic has a dual: ساعتان, "two hours").
LENGTH_WORDS = {
    "ساعة": 60,
    "ساعه": 60,
    "ساعة واحدة": 60,
    "ساعتان": 120,
    "ساعتين": 120,
    "نصف ساعة": 30,
    "نص ساعة": 30,
    "ربع ساعة": 15,
    "ساعة ونصف": 90,
    "ساعة و نصف": 90,
    "ساعتان ونصف": 150,
    "ساعتين ونصف": 150,
    "يوم": 1440,
    "يومان": 2880,
    "يومين": 2880,
    "une heure": 60,
    "deux heures": 120,
    "une demi-heure": 30,
    "an hour": 60,
    "half an hour": 30,
}


class Problem(enum.StrEnum):
    FORMAT = "format"  # not YYYY-MM-DD HH:MM
    NONEXISTENT = "nonexistent"  # skipped by a daylight-saving change
    PAST = "past"
    TOO_FAR = "too_far"
    END_BEFORE_START = "end_before_start"
    TOO_LONG = "too_long"  # lasts more than MAX_DURATION
    TEXT_EMPTY = "text_empty"
    TEXT_TOO_LONG = "text_too_long"
    OFFSETS = "offsets"
    CANCELLED = "cancelled"
    STARTED = "started"
    OVER = "over"
    NOT_STARTED = "not_started"
    CHANGED = "changed"  # someone else changed the event meanwhile


class EventError(ValueError):
    """A request that cannot be done as asked; the handler says why and asks again."""

    def __init__(self, problem: Problem, **details: Any) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.details = details


# --------------------------------------------------------------------------- time


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as aware UTC; EventError if the clocks skip it.

    An ambiguous time (the repeated hour when the clocks go back) means its first
    occurrence.
    """
    aware = wall.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != wall:
        raise EventError(Problem.NONEXISTENT, wall=wall)
    return utc


def parse_local_datetime(text: str, tz: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` typed in the network's zone (any script's digits) -> aware
    UTC."""
    match = DATETIME_RE.match(to_ascii_digits(text))
    if not match:
        raise EventError(Problem.FORMAT)
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        wall = datetime(year, month, day, hour, minute)
    except ValueError as exc:
        raise EventError(Problem.FORMAT) from exc
    return local_to_utc(wall, tz)


def parse_time_of_day(text: str) -> time:
    match = TIME_RE.match(to_ascii_digits(text))
    if not match:
        raise EventError(Problem.FORMAT)
    try:
        return time(int(match.group(1)), int(match.group(2)))
    except ValueError as exc:
        raise EventError(Problem.FORMAT) from exc


def _plain(text: str) -> str:
    """Typed text with ASCII digits, lower case, single spaces, "." for a decimal comma."""
    value = " ".join(to_ascii_digits(text).lower().split())
    return re.sub(r"(?<=\d),(?=\d)", ".", value)


def parse_duration(text: str) -> timedelta | None:
    """``2h``, ``90m``, ``1h30``, ``1.5h``, ``1d``, ``3 ساعات``, ``٩٠ دقيقة`` ...; None
    when the text is not a duration."""
    value = _plain(text)
    for letter, pattern in _UNIT_RES:
        value = pattern.sub(letter, value)
    match = DURATION_RE.match(value.replace(" ", ""))
    if not match or not any(match.groups()):
        return None
    weeks, days, hours, after_h, minutes = match.groups()
    if hours and "." in hours and (weeks or days or after_h or minutes):
        return None  # 1.5h30 means nothing
    total = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=float(hours or 0),
        minutes=int(after_h or 0) + int(minutes or 0),
    )
    total = timedelta(minutes=round(total.total_seconds() / 60))
    return total if total > timedelta(0) else None


def parse_length(text: str) -> timedelta | None:
    """How long an event lasts, as people type it: a duration (``2h``, ``1h30``), a
    length in words (``ساعتان``), or a bare number: minutes above 12, hours up to 12
    (``90`` is 1 h 30, ``2`` is 2 h, ``1.5`` is 1 h 30). None when it is none of these."""
    value = _plain(text)
    if value in LENGTH_WORDS:
        return timedelta(minutes=LENGTH_WORDS[value])
    if BARE_NUMBER_RE.match(value):
        number = float(value)
        if number <= 0:
            return None
        if number > BARE_HOURS_MAX:
            return timedelta(minutes=round(number))
        return timedelta(minutes=round(number * 60))
    return parse_duration(value)


def check_start(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise EventError(Problem.PAST)
    if starts_at - now > MAX_AHEAD:
        raise EventError(Problem.TOO_FAR)


def check_end(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise EventError(Problem.END_BEFORE_START)
    if ends_at - starts_at > MAX_DURATION:
        raise EventError(Problem.TOO_LONG)


def parse_start(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    starts_at = parse_local_datetime(text, tz)
    check_start(starts_at, now)
    return starts_at


def start_on_day(day: str, at: time, tz: ZoneInfo, now: datetime) -> datetime:
    """A quick-button start: an ISO day and a time of day in the network's zone."""
    try:
        wall = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), at)
    except ValueError as exc:
        raise EventError(Problem.FORMAT) from exc
    starts_at = local_to_utc(wall, tz)
    check_start(starts_at, now)
    return starts_at


def _end_at_time(text: str, starts_at: datetime, tz: ZoneInfo) -> datetime:
    at = parse_time_of_day(text)
    day = starts_at.astimezone(tz).date()
    return local_to_utc(datetime.combine(day, at), tz)


def parse_end(text: str, starts_at: datetime, tz: ZoneInfo) -> datetime:
    """The end typed as a length (``2h``, ``90``, ``ساعتان``: see `parse_length`), a time
    (``19:00``, the start's day) or a full ``YYYY-MM-DD HH:MM``. ``19h30`` is a time
    when that comes after the start (as the French write it), else ``1h30`` a length."""
    plain = _plain(text)
    duration = parse_length(plain)
    if duration is not None and TIME_RE.match(plain) and "h" in plain:
        try:
            at_time = _end_at_time(plain, starts_at, tz)
        except EventError:
            at_time = None
        if at_time is not None and at_time > starts_at:
            duration = None
    if duration is not None:
        ends_at = starts_at + duration
    elif TIME_RE.match(plain):
        ends_at = _end_at_time(plain, starts_at, tz)
    else:
        ends_at = parse_local_datetime(plain, tz)
    check_end(starts_at, ends_at)
    return ends_at


def clean_text(text: str, limit: int, *, multiline: bool = False) -> str:
    """Trimmed user text; EventError when empty, a command, or over ``limit``."""
    if multiline:
        lines = [" ".join(line.split()) for line in text.strip().splitlines()]
        value = "\n".join(lines).strip()
        value = re.sub(r"\n{3,}", "\n\n", value)
    else:
        value = " ".join(text.split())
    if not value or value.startswith("/"):
        raise EventError(Problem.TEXT_EMPTY)
    if any(not (ch.isprintable() or ch == "\n") for ch in value):
        raise EventError(Problem.TEXT_EMPTY)
    if len(value) > limit:
        raise EventError(Problem.TEXT_TOO_LONG, limit=limit, length=len(value))
    return value


def parse_offsets(text: str) -> list[int]:
    """Reminder offsets typed as ``1d 3h 30m`` (or ``none``) -> minutes, largest first."""
    words = text.replace(",", " ").split()
    if len(words) == 1 and words[0].lower() in {"0", "none", "-"}:
        return []
    offsets: set[int] = set()
    for word in words:
        duration = parse_duration(word)
        if duration is None:
            raise EventError(Problem.OFFSETS)
        minutes = int(duration.total_seconds() // 60)
        if not 1 <= minutes <= MAX_OFFSET_MINUTES:
            raise EventError(Problem.OFFSETS)
        offsets.add(minutes)
    if not offsets or len(offsets) > MAX_OFFSETS:
        raise EventError(Problem.OFFSETS)
    return sorted(offsets, reverse=True)


def reminder_due(starts_at: datetime, offset_minutes: int, tz: ZoneInfo) -> datetime:
    """When a reminder ``offset_minutes`` before the start is due (aware UTC).

    Whole days keep the wall-clock time in the network's zone; anything else is an exact
    duration before the start.
    """
    if offset_minutes % 1440 == 0:
        local = starts_at.astimezone(tz).replace(tzinfo=None)
        wall = local - timedelta(days=offset_minutes // 1440)
        # fold=0: a wall time the clocks skip resolves to the same instant an hour later.
        return wall.replace(tzinfo=tz).astimezone(UTC)
    return starts_at - timedelta(minutes=offset_minutes)
