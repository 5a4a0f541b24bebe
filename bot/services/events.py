"""Events: creating, announcing, RSVP, attendance, edits, cancellations and reminders.

Announcements, change notices and reminders are send jobs of the delivery engine (kinds
"event", "event_update", "reminder"): texts are rendered once per locale (ar, en, fr) and
put in the payload with the RSVP buttons. The calendar file is uploaded once, to the
coordinator who made the change, and the members get it again by its Telegram file_id.

Reminders (PRODUCT.md §2, issue 4): the database is the source of truth. Each due
reminder is a row of ``event_reminders``; `send_due_reminders` claims due rows with an
atomic conditional UPDATE (``status='pending'`` -> ``'claimed'``, rowcount checked; ``FOR
UPDATE SKIP LOCKED`` on PostgreSQL), commits the claim, then enqueues the reminder's send
jobs. Each enqueue commits together with a guarded update of the row (``WHERE
status='claimed' AND claimed_by=<this worker>``), so a job is queued once or not at all:

* a crash before the claim commits leaves the row pending: it is sent at the next start;
* a crash after it leaves the row claimed: this worker releases it at its next start, or
  any worker takes it over once its lease (`LEASE`) has run out, and goes on with the
  groups of recipients not yet queued (recorded in ``jobs``); a worker that lost its claim
  cannot queue anything (its guarded update matches no row and its work rolls back);
* a reminder that came due while the bot was down is sent late if the event has not
  started, skipped if it has (and when several came due for one event, only the latest).

Reminder offsets are per network (`event_settings`, default 24 h and 1 h). Offsets of
whole days keep the wall-clock time in the network's zone (a "1 day before" reminder of a
10:00 meeting comes at 10:00 the day before, even across a daylight-saving change); other
offsets are exact durations. Services take ``now`` so tests control the clock.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_time, format_timedelta
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import RsvpCb
from bot.config import SUPPORTED_LOCALES
from bot.ics import CalendarEvent, build_ics, filename
from bot.labels import (
    ANSWER_ICONS,
    ANSWER_LABELS,
    answer_label,
    event_kind_label,
    join_list,
    to_ascii_digits,
)
from bot.services.access import AccessDenied, Actor
from storage.models import Network, utcnow
from storage.models.events import Answer, Event, EventKind, EventStatus, ReminderStatus
from storage.repositories import audit, memberships, networks
from storage.repositories import events as repo
from storage.repositories.events import Person

if TYPE_CHECKING:
    from bot.context import AppContext
    from bot.delivery import DeliveryEngine, Recipient

log = logging.getLogger(__name__)

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
    "ساعة": 60, "ساعه": 60, "ساعة واحدة": 60, "ساعتان": 120, "ساعتين": 120,
    "نصف ساعة": 30, "نص ساعة": 30, "ربع ساعة": 15, "ساعة ونصف": 90, "ساعة و نصف": 90,
    "ساعتان ونصف": 150, "ساعتين ونصف": 150, "يوم": 1440, "يومان": 2880, "يومين": 2880,
    "une heure": 60, "deux heures": 120, "une demi-heure": 30, "an hour": 60,
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


def zone(network: Network) -> ZoneInfo:
    return ZoneInfo(network.timezone)


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
        weeks=int(weeks or 0), days=int(days or 0), hours=float(hours or 0),
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


# ---------------------------------------------------------------------- rendering


@dataclass(frozen=True, slots=True)
class Card:
    """What an event's text shows (an Event, or a draft not stored yet)."""

    kind: str
    title: str
    place: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str

    @classmethod
    def of(cls, event: Event) -> Card:
        return cls(
            kind=event.kind,
            title=event.title,
            place=event.place,
            description=event.description,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            timezone=event.network.timezone,
        )


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def duration_label(minutes: int) -> str:
    """``1 day``, ``3 hours``, ``1 hour 30 minutes`` in the current locale."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("{n} day", "{n} days", days).format(n=days))
    if hours:
        parts.append(_("{n} hour", "{n} hours", hours).format(n=hours))
    if mins or not parts:
        parts.append(_("{n} minute", "{n} minutes", mins).format(n=mins))
    return " ".join(parts)


def offsets_label(offsets: Sequence[int]) -> str:
    if not offsets:
        return _("no reminders")
    return join_list(duration_label(m) for m in offsets)


def when_text(starts_at: datetime, ends_at: datetime, tz_name: str, locale: str) -> str:
    tz = ZoneInfo(tz_name)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    start_time = format_time(start, "short", tzinfo=tz, locale=locale)
    end_time = format_time(end, "short", tzinfo=tz, locale=locale)
    start_date = format_date(start.date(), "full", locale=locale)
    if start.date() == end.date():
        return _("{date}, {start}–{end}").format(date=start_date, start=start_time, end=end_time)
    return _("{start_date}, {start} – {end_date}, {end}").format(
        start_date=start_date,
        start=start_time,
        end_date=format_date(end.date(), "full", locale=locale),
        end=end_time,
    )


def card_text(
    card: Card, locale: str, *, header: str = "", footer: str = "", limit: int = TEXT_MAX
) -> str:
    """The event as HTML: header, kind and title, when, where, description, footer.

    The description is shortened when the whole would exceed ``limit`` (UTF-16 units, as
    Telegram counts; a caption allows 1,024). The calendar file keeps it whole.
    """
    lines = []
    if header:
        lines.append(header)
    lines.append(f"📅 <b>{escape(event_kind_label(card.kind))}: {escape(card.title)}</b>")
    lines.append("🕔 " + when_text(card.starts_at, card.ends_at, card.timezone, locale))
    lines.append("📍 " + escape(card.place))
    head = "\n".join(lines)
    tail = "\n\n" + footer if footer else ""
    if not card.description:
        return head + tail
    description = escape(card.description)
    room = limit - utf16_len(head) - utf16_len(tail) - 2
    if utf16_len(description) > room:
        plain = card.description
        while plain and utf16_len(escape(plain)) > room - 1:
            plain = plain[: max(0, len(plain) - max(1, len(plain) // 10))]
        description = escape(plain.rstrip()) + "…" if plain else ""
    return head + ("\n\n" + description if description else "") + tail


def in_locales(i18n: I18n, render: Callable[[str], Any]) -> dict[str, Any]:
    """``render(locale)`` under each supported locale (works outside handlers too)."""
    out: dict[str, Any] = {}
    with i18n.context():
        for locale in SUPPORTED_LOCALES:
            with i18n.use_locale(locale):
                out[locale] = render(locale)
    return out


def rsvp_buttons(i18n: I18n, event_id: int) -> list[list[dict[str, Any]]]:
    """Payload buttons (labels per locale) going / maybe / not going."""
    row = []
    for answer, icon in ANSWER_ICONS.items():
        labels = in_locales(i18n, functools.partial(_answer_button, answer, icon))
        row.append(
            {"text": labels, "callback_data": RsvpCb(event_id=event_id, answer=answer).pack()}
        )
    return [row]


def _answer_button(answer: Answer, icon: str, _locale: str) -> str:
    return f"{icon} {ANSWER_LABELS[answer]}"


def _payload(
    texts: dict[str, str], file_id: str | None, buttons: list[list[dict[str, Any]]] | None
) -> dict[str, Any]:
    if file_id:
        payload: dict[str, Any] = {
            "method": "send_document",
            "params": {"document": file_id, "caption": texts.get("en", "")},
            "locales": {loc: {"caption": text} for loc, text in texts.items()},
        }
    else:
        payload = {
            "method": "send_message",
            "params": {"text": texts.get("en", "")},
            "locales": {loc: {"text": text} for loc, text in texts.items()},
        }
    if buttons:
        payload["buttons"] = buttons
    return payload


def announcement_text(card: Card, locale: str, *, limit: int = CAPTION_MAX) -> str:
    return card_text(card, locale, footer=_("Will you come?"), limit=limit)


def update_text(card: Card, before: Card | None, locale: str, *, limit: int) -> str:
    header = _("✏️ <b>Changed</b>")
    notes = []
    if before is not None and (before.starts_at, before.ends_at) != (
        card.starts_at,
        card.ends_at,
    ):
        notes.append(
            _("Was: {when}").format(
                when=when_text(before.starts_at, before.ends_at, before.timezone, locale)
            )
        )
    if before is not None and before.place != card.place:
        notes.append(_("Was at: {place}").format(place=escape(before.place)))
    footer = "\n".join([*notes, _("Does your answer still hold?")])
    return card_text(card, locale, header=header, footer=footer, limit=limit)


def cancel_text(card: Card, locale: str, *, limit: int) -> str:
    return card_text(
        card,
        locale,
        header=_("❌ <b>Cancelled</b>"),
        footer=_("This event will not take place."),
        limit=limit,
    )


def reminder_text(card: Card, group: str, locale: str, now: datetime) -> str:
    left = format_timedelta(card.starts_at - now, add_direction=False, locale=locale)
    header = _("⏰ <b>Reminder</b>: starts in {time}.").format(time=left)
    if group == Answer.GOING:
        footer = _("You said you will come. See you there!")
    elif group == Answer.MAYBE:
        footer = _("You answered “maybe”. Will you come?")
    else:
        footer = _("Will you come?")
    return card_text(card, locale, header=header, footer=footer)


def _reminder_in(card: Card, group: str, now: datetime, locale: str) -> str:
    return reminder_text(card, group, locale, now)


def answer_line(answer: str | None) -> str:
    if answer is None:
        return _("Your answer: not yet given.")
    return _("Your answer: {answer}.").format(answer=answer_label(answer))


# ---------------------------------------------------------------------- recipients


def _locale(person: Person, network: Network, i18n: I18n) -> str:
    for candidate in (person.language, network.locale, i18n.default_locale):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return "en"


def _recipients(people: Sequence[Person], network: Network, i18n: I18n) -> list[Recipient]:
    from bot.delivery import Recipient

    return [Recipient(p.user_id, p.tg_id, _locale(p, network, i18n)) for p in people]


def _actor_user_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


# ------------------------------------------------------------------ calendar upload


async def upload_ics(
    bot: Bot,
    chat_id: int,
    card: Card,
    *,
    uid: str,
    sequence: int,
    now: datetime,
    caption: str,
    cancelled: bool = False,
) -> Message | None:
    """Send the calendar file to one person (the coordinator acting) and so upload it
    once; members get it again by file_id. None if Telegram refused it."""
    data = build_ics(
        CalendarEvent(
            uid=uid,
            sequence=sequence,
            title=card.title,
            place=card.place,
            description=card.description,
            starts_at=card.starts_at,
            ends_at=card.ends_at,
            timezone=card.timezone,
            kind=card.kind,
        ),
        now=now,
        cancelled=cancelled,
    )
    name = filename(card.kind, card.starts_at, card.timezone)
    try:
        return await bot.send_document(
            chat_id, BufferedInputFile(data, filename=name), caption=caption
        )
    except TelegramAPIError as exc:
        log.warning("could not upload the calendar file of %s: %s", uid, exc)
        return None


def _file_id(message: Message | None) -> str | None:
    if message is not None and message.document is not None:
        return message.document.file_id
    return None


# --------------------------------------------------------------------- reminders


async def plan_reminders(
    session: AsyncSession, event: Event, now: datetime, offsets: Sequence[int] | None = None
) -> int:
    """(Re)plan an event's reminder rows for its current sequence; returns rows added.

    Pending rows of earlier plans, or of offsets no longer wanted, are deleted; rows
    already sent or skipped in this plan stay (so nothing is sent twice); rows whose time
    has passed are not made. Claimed rows are left to their sender, which sees the change.
    """
    if offsets is None:
        offsets = await repo.reminder_offsets(session, event.network_id)
    await repo.delete_pending(
        session, event.id, keep_plan=event.sequence, keep_offsets=list(offsets)
    )
    if event.status != EventStatus.SCHEDULED:
        return 0
    have = await repo.planned_offsets(session, event.id, event.sequence)
    tz = ZoneInfo(event.network.timezone)
    due = []
    for offset in offsets:
        if offset in have:
            continue
        at = reminder_due(event.starts_at, offset, tz)
        if at > now:
            due.append((offset, at))
    return await repo.add_reminders(session, event.id, event.sequence, due)


@dataclass
class ReminderRun:
    claimed: int = 0
    sent: list[int] = field(default_factory=list)  # reminder ids
    skipped: dict[int, str] = field(default_factory=dict)  # reminder id -> why
    jobs: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # taken over by another worker


REMINDER_GROUPS = (Answer.GOING.value, Answer.MAYBE.value, "open")


async def claim_due_reminders(
    session: AsyncSession, *, now: datetime, worker_id: str, limit: int = CLAIM_BATCH
) -> list[repo.DueReminder]:
    """Claim due rows (and stale claims) for this worker; committed before returning."""
    stale_before = now - LEASE
    ids = await repo.due_reminder_ids(session, now, stale_before, limit)
    for reminder_id in ids:
        await repo.claim(session, reminder_id, worker_id, now, stale_before)
    await session.commit()
    return await repo.claimed_by(session, worker_id)


async def send_due_reminders(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    *,
    now: datetime,
    worker_id: str,
    limit: int = CLAIM_BATCH,
) -> ReminderRun:
    """Claim the reminders due at ``now`` and queue their send jobs. See the module doc."""
    run = ReminderRun()
    async with session_pool() as session:
        claimed = await claim_due_reminders(session, now=now, worker_id=worker_id, limit=limit)
    run.claimed = len(claimed)
    # Several due for one event (the bot was down): only the latest is worth sending.
    latest: dict[int, repo.DueReminder] = {}
    for row in claimed:
        best = latest.get(row.event_id)
        if best is None or (row.due_at, row.id) > (best.due_at, best.id):
            latest[row.event_id] = row
    for row in claimed:
        async with session_pool() as session:
            try:
                await _send_one(
                    session, delivery, i18n, row, latest[row.event_id], now, worker_id, run
                )
            except Exception:
                await session.rollback()
                log.exception("reminder %s could not be queued; it will be retried", row.id)
    return run


async def _send_one(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    row: repo.DueReminder,
    latest: repo.DueReminder,
    now: datetime,
    worker_id: str,
    run: ReminderRun,
) -> None:
    event = await repo.get(session, row.event_id)
    reason = None
    if event is None or event.status != EventStatus.SCHEDULED:
        reason = "cancelled"
    elif row.plan != event.sequence:
        reason = "replanned"
    elif event.starts_at <= now:
        reason = "started"
    elif latest.id != row.id and not row.jobs:
        reason = "superseded"
    if reason is not None or event is None:
        reason = reason or "cancelled"
        if await repo.advance(
            session, row.id, worker_id, now, status=ReminderStatus.SKIPPED, note=reason
        ):
            run.skipped[row.id] = reason
        else:
            run.lost.append(row.id)
        await session.commit()
        return
    network = event.network
    card = Card.of(event)
    groups: dict[str, list[Person]] = {g: [] for g in REMINDER_GROUPS}
    for person in await repo.people(session, event.id, event.network_id):
        if person.answer == Answer.NO:
            continue
        groups[person.answer if person.answer in groups else "open"].append(person)
    done: dict[str, int] = dict(row.jobs or {})
    todo = [g for g in REMINDER_GROUPS if g not in done and groups[g]]
    if not todo:
        ok = await repo.advance(
            session,
            row.id,
            worker_id,
            now,
            status=ReminderStatus.SENT,
            note=None if done else "nobody",
        )
        await session.commit()
        if ok:
            run.sent.append(row.id)
        else:
            run.lost.append(row.id)
        return
    for group in todo:
        done[group] = 0  # the job id is known after the enqueue; recorded just below
        last = group == todo[-1]
        if not await repo.advance(
            session,
            row.id,
            worker_id,
            now,
            jobs=done,
            status=ReminderStatus.SENT if last else None,
        ):
            await session.rollback()
            run.lost.append(row.id)
            return
        texts = in_locales(i18n, functools.partial(_reminder_in, card, group, now))
        buttons = None if group == Answer.GOING else rsvp_buttons(i18n, event.id)
        job = await delivery.enqueue(  # commits the guarded update above with the job
            session,
            kind="reminder",
            payload=_payload(texts, None, buttons),
            recipients=_recipients(groups[group], network, i18n),
            network_id=event.network_id,
        )
        done[group] = job.id
        run.jobs.append(job.id)
    # Informational: the real job ids (the row is already sent; best effort).
    await repo.record_jobs(session, row.id, worker_id, done)
    await session.commit()
    run.sent.append(row.id)


async def release_own_claims(session_pool: async_sessionmaker[AsyncSession], worker_id: str) -> int:
    """At start: rows this worker id had claimed before a restart go back to pending."""
    async with session_pool() as session:
        count = await repo.release(session, worker_id)
        await session.commit()
    if count:
        log.warning("%d reminders claimed before a restart will be sent now", count)
    return count


async def next_reminder_at(session_pool: async_sessionmaker[AsyncSession]) -> datetime | None:
    async with session_pool() as session:
        return await repo.next_due_at(session)


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler.

    An interval job every `TICK_SECONDS` claims and queues due reminders (so none is
    more than that late, and rows due while the bot was down go out at once); after each
    run a one-shot date job is set for the next due row when it falls before the next
    tick, so reminders leave on the second.
    """
    lock = asyncio.Lock()
    worker_id = getattr(ctx.delivery, "worker_id", None) or f"events-{uuid.uuid4().hex[:12]}"
    state = {"started": False}

    async def tick() -> None:
        if lock.locked():
            return
        async with lock:
            try:
                if not state["started"]:
                    await release_own_claims(ctx.session_pool, worker_id)
                    state["started"] = True
                now = utcnow()
                run = await send_due_reminders(
                    ctx.session_pool, ctx.delivery, ctx.i18n, now=now, worker_id=worker_id
                )
                if run.sent or run.skipped:
                    log.info(
                        "reminders: %d queued, %d skipped (%s)",
                        len(run.sent),
                        len(run.skipped),
                        ", ".join(sorted(set(run.skipped.values()))) or "-",
                    )
                upcoming = await next_reminder_at(ctx.session_pool)
            except Exception:
                log.exception("reminder run failed; trying again at the next tick")
                return
        if upcoming is not None and upcoming - utcnow() < timedelta(seconds=TICK_SECONDS):
            ctx.scheduler.add_job(
                tick,
                "date",
                run_date=max(upcoming, utcnow()),
                id=NEXT_JOB_ID,
                replace_existing=True,
                misfire_grace_time=None,
            )

    ctx.scheduler.add_job(
        tick,
        "interval",
        seconds=TICK_SECONDS,
        id=JOB_ID,
        replace_existing=True,
        next_run_time=utcnow(),
    )


# ----------------------------------------------------------------- creating events


@dataclass(frozen=True, slots=True)
class Draft:
    network_id: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    event: Event
    recipients: int
    offsets: list[int]
    job_id: int | None
    message: Message | None  # the coordinator's copy (with the calendar file)


def check_draft(draft: Draft, now: datetime) -> Draft:
    if draft.kind not in set(EventKind):
        raise EventError(Problem.FORMAT)
    check_start(draft.starts_at, now)
    check_end(draft.starts_at, draft.ends_at)
    return Draft(
        network_id=draft.network_id,
        kind=draft.kind,
        title=clean_text(draft.title, TITLE_MAX),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        place=clean_text(draft.place, PLACE_MAX),
        description=(
            clean_text(draft.description, DESCRIPTION_MAX, multiline=True)
            if draft.description
            else None
        ),
    )


async def network_for(session: AsyncSession, actor: Actor, network_id: int) -> Network:
    actor.require_coordinator(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    return network


async def audience_size(session: AsyncSession, actor: Actor, network_id: int) -> int:
    """How many people an announcement in this network reaches (all but the author)."""
    await network_for(session, actor, network_id)
    count = await memberships.count_active(session, network_id)
    return count - (1 if network_id in actor.member_network_ids else 0)


async def create_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    draft: Draft,
    *,
    chat_id: int,
    now: datetime,
) -> Published:
    """Store the event, plan its reminders and announce it to the network, at once.

    The calendar file goes first to the coordinator (``chat_id``), which uploads it; the
    event, its reminders, the audit entry and the announcement job then commit together.
    """
    network = await network_for(session, actor, draft.network_id)
    draft = check_draft(draft, now)
    card = Card(
        kind=draft.kind,
        title=draft.title,
        place=draft.place,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        timezone=network.timezone,
    )
    uid = f"{uuid.uuid4()}@prevnet"
    mine = await upload_ics(
        bot,
        chat_id,
        card,
        uid=uid,
        sequence=0,
        now=now,
        caption=announcement_text(card, i18n.current_locale),
    )
    file_id = _file_id(mine)
    event = await repo.create(
        session,
        network_id=network.id,
        uid=uid,
        kind=draft.kind,
        title=draft.title,
        place=draft.place,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        status=EventStatus.SCHEDULED,
        sequence=0,
        ics_file_id=file_id,
        created_by_id=_actor_user_id(actor),
        created_at=now,
        updated_at=now,
    )
    offsets = await repo.reminder_offsets(session, network.id)
    await plan_reminders(session, event, now, offsets)
    await audit.record(
        session,
        "event_create",
        actor_id=_actor_user_id(actor),
        network_id=network.id,
        event_id=event.id,
        kind=draft.kind,
        starts_at=draft.starts_at.isoformat(),
    )
    members = [
        p for p in await repo.people(session, event.id, network.id) if p.tg_id != actor.tg_id
    ]
    job_id = None
    if members:
        texts = in_locales(i18n, lambda loc: announcement_text(card, loc))
        job = await delivery.enqueue(  # commits the event with its job
            session,
            kind="event",
            payload=_payload(texts, file_id, rsvp_buttons(i18n, event.id)),
            recipients=_recipients(members, network, i18n),
            network_id=network.id,
            author_id=_actor_user_id(actor),
        )
        job_id = job.id
    else:
        await session.commit()
    return Published(event, len(members), offsets, job_id, mine)


# ----------------------------------------------------------------------- reading


async def event_for_member(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    event = await repo.get(session, event_id)
    if event is None:
        raise AccessDenied(f"no event {event_id}")
    actor.require_member(event.network_id)
    return event


async def event_for_coordinator(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    event = await repo.get(session, event_id)
    if event is None:
        raise AccessDenied(f"no event {event_id}")
    actor.require_coordinator(event.network_id)
    return event


async def visible_network_ids(session: AsyncSession, actor: Actor) -> list[int]:
    if actor.is_admin:
        return [n.id for n in await networks.list_all(session)]
    return sorted(actor.member_network_ids)


@dataclass(frozen=True, slots=True)
class Listing:
    upcoming: Sequence[Event]
    answers: dict[int, str | None]
    to_mark: Sequence[Event]  # recent events whose attendance the actor may mark


async def list_events(session: AsyncSession, actor: Actor, now: datetime) -> Listing:
    ids = await visible_network_ids(session, actor)
    upcoming = await repo.upcoming(session, ids, now)
    answers = {}
    if actor.user is not None:
        answers = await repo.answers_of_user(session, actor.user.id, [e.id for e in upcoming])
    coordinated = [i for i in ids if actor.can_coordinate(i)]
    to_mark = await repo.recent(session, coordinated, now, now - ATTENDANCE_WINDOW)
    return Listing(upcoming, answers, to_mark)


async def my_answer(session: AsyncSession, actor: Actor, event_id: int) -> str | None:
    if actor.user is None:
        return None
    return await repo.answer_of(session, event_id, actor.user.id)


@dataclass(frozen=True, slots=True)
class Responses:
    event: Event
    by_answer: dict[str, list[Person]]  # going / maybe / no / "none"
    attended: int


async def responses(session: AsyncSession, actor: Actor, event_id: int) -> Responses:
    """Who answered what (coordinators of the event's network, admins)."""
    event = await event_for_coordinator(session, actor, event_id)
    by_answer: dict[str, list[Person]] = {a.value: [] for a in Answer}
    by_answer["none"] = []
    attended = 0
    for person in await repo.people(session, event.id, event.network_id):
        by_answer[person.answer or "none"].append(person)
        attended += bool(person.attended)
    return Responses(event, by_answer, attended)


# -------------------------------------------------------------------------- RSVP


async def set_rsvp(
    session: AsyncSession, actor: Actor, event_id: int, answer: str, now: datetime
) -> Event:
    """Record or change the actor's answer. AccessDenied outside the event's network."""
    answer = Answer(answer)
    event = await event_for_member(session, actor, event_id)
    if actor.user is None:
        raise AccessDenied(f"user {actor.tg_id} is not registered")
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.ends_at <= now:
        raise EventError(Problem.OVER)
    await repo.set_answer(session, event.id, actor.user.id, answer, now)
    await session.commit()
    return event


async def toggle_attendance(
    session: AsyncSession, actor: Actor, event_id: int, user_id: int, now: datetime
) -> bool:
    """Mark (or unmark) that a member came; returns the new mark."""
    event = await event_for_coordinator(session, actor, event_id)
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.starts_at > now:
        raise EventError(Problem.NOT_STARTED)
    person = next(
        (p for p in await repo.people(session, event.id, event.network_id) if p.user_id == user_id),
        None,
    )
    if person is None:
        raise AccessDenied(f"user {user_id} is not in network {event.network_id}")
    value = not bool(person.attended)
    await repo.set_attended(session, event.id, user_id, value)
    await session.commit()
    return value


# ------------------------------------------------------------------ edit / cancel


@dataclass(frozen=True, slots=True)
class Changed:
    event: Event
    told: int  # people who answered going or maybe, told of the change
    job_id: int | None
    changed: bool = True


async def _editable(session: AsyncSession, actor: Actor, event_id: int, now: datetime) -> Event:
    event = await event_for_coordinator(session, actor, event_id)
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.starts_at <= now:
        raise EventError(Problem.STARTED)
    return event


async def _notify_answered(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event: Event,
    render: Callable[[str], str],
    file_id: str | None,
    *,
    buttons: bool,
) -> tuple[int, int | None]:
    people = [
        p
        for p in await repo.people(
            session, event.id, event.network_id, answers=(Answer.GOING, Answer.MAYBE)
        )
        if p.tg_id != actor.tg_id
    ]
    if not people:
        await session.commit()
        return 0, None
    texts = in_locales(i18n, render)
    job = await delivery.enqueue(  # commits the change with its notice
        session,
        kind="event_update",
        payload=_payload(texts, file_id, rsvp_buttons(i18n, event.id) if buttons else None),
        recipients=_recipients(people, event.network, i18n),
        network_id=event.network_id,
        author_id=_actor_user_id(actor),
    )
    return len(people), job.id


async def _apply_change(
    session: AsyncSession, event: Event, now: datetime, **values: Any
) -> Event:
    """Write a change if nobody changed the event meanwhile (its SEQUENCE is the guard),
    then re-plan its reminders. EventError(CHANGED) when someone else was first."""
    if not await repo.change(session, event.id, event.sequence, **values):
        await session.rollback()
        raise EventError(Problem.CHANGED)
    fresh = await repo.get(session, event.id)
    assert fresh is not None
    await plan_reminders(session, fresh, now)
    return fresh


async def update_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event_id: int,
    *,
    chat_id: int,
    now: datetime,
    starts_at: datetime | None = None,
    place: str | None = None,
) -> Changed:
    """Move an event (its length is kept) or change its place; tell those going or maybe,
    with the calendar file again (same UID, next SEQUENCE); re-plan the reminders."""
    event = await _editable(session, actor, event_id, now)
    before = Card.of(event)
    values: dict[str, Any] = {}
    if starts_at is not None:
        check_start(starts_at, now)
        length = event.ends_at - event.starts_at
        values.update(starts_at=starts_at, ends_at=starts_at + length)
    if place is not None:
        values["place"] = clean_text(place, PLACE_MAX)
    after = Card(
        kind=event.kind,
        title=event.title,
        place=values.get("place", event.place),
        description=event.description,
        starts_at=values.get("starts_at", event.starts_at),
        ends_at=values.get("ends_at", event.ends_at),
        timezone=before.timezone,
    )
    if after == before:
        return Changed(event, 0, None, changed=False)
    sequence = event.sequence + 1
    mine = await upload_ics(
        bot,
        chat_id,
        after,
        uid=event.uid,
        sequence=sequence,
        now=now,
        caption=update_text(after, before, i18n.current_locale, limit=CAPTION_MAX),
    )
    file_id = _file_id(mine)
    event = await _apply_change(
        session, event, now, sequence=sequence, ics_file_id=file_id, updated_at=now, **values
    )
    await audit.record(
        session,
        "event_update",
        actor_id=_actor_user_id(actor),
        network_id=event.network_id,
        event_id=event.id,
        fields=sorted(values),
        sequence=sequence,
    )
    limit = CAPTION_MAX if file_id else TEXT_MAX
    told, job_id = await _notify_answered(
        session,
        delivery,
        i18n,
        actor,
        event,
        lambda loc: update_text(after, before, loc, limit=limit),
        file_id,
        buttons=True,
    )
    return Changed(event, told, job_id)


async def cancel_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event_id: int,
    *,
    chat_id: int,
    now: datetime,
) -> Changed:
    """Call an event off: no more reminders; those going or maybe are told, with a
    cancelling calendar file (METHOD:CANCEL, same UID, next SEQUENCE)."""
    event = await _editable(session, actor, event_id, now)
    card = Card.of(event)
    sequence = event.sequence + 1
    mine = await upload_ics(
        bot,
        chat_id,
        card,
        uid=event.uid,
        sequence=sequence,
        now=now,
        caption=cancel_text(card, i18n.current_locale, limit=CAPTION_MAX),
        cancelled=True,
    )
    file_id = _file_id(mine)
    event = await _apply_change(
        session,
        event,
        now,
        sequence=sequence,
        status=EventStatus.CANCELLED,
        cancelled_at=now,
        ics_file_id=file_id,
        updated_at=now,
    )
    await audit.record(
        session,
        "event_cancel",
        actor_id=_actor_user_id(actor),
        network_id=event.network_id,
        event_id=event.id,
    )
    limit = CAPTION_MAX if file_id else TEXT_MAX
    told, job_id = await _notify_answered(
        session,
        delivery,
        i18n,
        actor,
        event,
        lambda loc: cancel_text(card, loc, limit=limit),
        file_id,
        buttons=False,
    )
    return Changed(event, told, job_id)


# ----------------------------------------------------------------------- settings


async def reminder_settings(session: AsyncSession, actor: Actor, network_id: int) -> list[int]:
    await network_for(session, actor, network_id)
    return await repo.reminder_offsets(session, network_id)


async def set_reminder_offsets(
    session: AsyncSession, actor: Actor, network_id: int, offsets: Sequence[int], now: datetime
) -> list[int]:
    """Store a network's reminder offsets and re-plan its coming events."""
    await network_for(session, actor, network_id)
    wanted = sorted({int(m) for m in offsets}, reverse=True)
    if len(wanted) > MAX_OFFSETS or any(not 1 <= m <= MAX_OFFSET_MINUTES for m in wanted):
        raise EventError(Problem.OFFSETS)
    await repo.set_reminder_offsets(session, network_id, wanted, now)
    for event in await repo.future_of_network(session, network_id, now):
        await plan_reminders(session, event, now, wanted)
    await audit.record(
        session,
        "event_settings",
        actor_id=_actor_user_id(actor),
        network_id=network_id,
        reminder_offsets=wanted,
    )
    await session.commit()
    return wanted
