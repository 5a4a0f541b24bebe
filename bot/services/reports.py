"""Activity reports (PRODUCT.md §2): the dialog's rules, filing, fixing and withdrawing
within 24 h, coordinators' lists, review and exports, their notices, and nudges.

Services take ``now`` so tests control the clock. The report dialog keeps its draft in the
FSM data (a JSON dict, see `Draft`), so a half-filled report survives a restart; nothing
is stored in the reports table before the member submits.

Scheduled jobs (`setup_jobs`):
* ``reports.notify`` every few seconds: reports not yet notified are claimed atomically
  (``notified_at``) per network, once no new one came for a moment, and the network's
  coordinators get one message listing them, through the delivery engine.
* ``reports.nudge`` hourly: networks with nudges on, at a reasonable local hour and not on
  their weekend, remind members who have not reported for N days (and were not reminded in
  those N days), through the delivery engine, with a button that starts /report.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, get_day_names
from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import RepListCb, RepStartCb, RepViewCb
from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, Recipient
from bot.export import Sheet, to_csv, to_xlsx
from bot.labels import (
    activity_label,
    age_label,
    join_list,
    report_status_label,
    sector_label,
    to_ascii_digits,
)
from bot.services.access import AccessDenied, Actor
from storage.models import Membership, Network, utcnow
from storage.models.reports import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_NUDGE_DAYS,
    DESCRIPTION_MAX,
    MAX_PARTICIPANTS,
    NOTE_MAX,
    ActivityType,
    AgeGroup,
    AttachmentKind,
    Report,
    ReportSettings,
    ReportStatus,
)
from storage.repositories import audit, memberships, networks
from storage.repositories import reports as repo
from storage.repositories.reports import ReportRow

if TYPE_CHECKING:
    from bot.context import AppContext

log = logging.getLogger(__name__)

EDIT_WINDOW = timedelta(hours=24)
PAGE_SIZE = 8
MY_REPORTS_SHOWN = 10
PARTICIPANT_CHOICES = (5, 10, 15, 20, 25, 30, 40, 50)
NUDGE_DAY_CHOICES = (7, 14, 21, 30)
MAX_AGE_CHOICES = (7, 30, 90)
PERIOD_CHOICES = (7, 30, 90, 365)  # filters of a coordinator's list, in days
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


def first_words(text: str | None, limit: int = SNIPPET_CHARS) -> str:
    """The start of a description on one line, cut at a word ("Football with the…");
    plain text (escape it for HTML)."""
    words = " ".join((text or "").split())
    if len(words) <= limit:
        return words
    cut = words[: limit + 1]
    head = cut.rsplit(" ", 1)[0] if " " in cut.strip() else words[:limit]
    return head.rstrip(" ,.;:-–—،") + "…"


def tz_of(network: Network) -> ZoneInfo:
    return ZoneInfo(network.timezone)


def local_today(network: Network, now: datetime) -> date:
    return now.astimezone(tz_of(network)).date()


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


# -------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """A network's report settings, with the defaults filled in."""

    network_id: int
    nudge_enabled: bool = False
    nudge_days: int = DEFAULT_NUDGE_DAYS
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    weekend: str | None = None

    @classmethod
    def of(cls, network_id: int, row: ReportSettings | None) -> Settings:
        if row is None:
            return cls(network_id)
        return cls(network_id, row.nudge_enabled, row.nudge_days, row.max_age_days, row.weekend)


async def get_settings(session: AsyncSession, network_id: int) -> Settings:
    return Settings.of(network_id, await repo.get_settings(session, network_id))


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
) -> Settings:
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
    return Settings.of(network_id, row)


# ----------------------------------------------------------------- filing and fixing


def _membership(actor: Actor, network_id: int) -> Membership:
    """The actor's active membership in a network; only members file reports."""
    membership = next((m for m in actor.memberships if m.network_id == network_id), None)
    if membership is None or actor.user is None:
        raise AccessDenied(f"user {actor.tg_id} is not a member of network {network_id}")
    return membership


def reporting_networks(actor: Actor) -> list[Network]:
    return sorted((m.network for m in actor.memberships), key=lambda n: n.name)


async def submit(session: AsyncSession, actor: Actor, draft: Draft, now: datetime) -> Report:
    """File a new report from a complete draft."""
    membership = _membership(actor, int(draft.get("network_id") or 0))
    network = membership.network
    settings = await get_settings(session, network.id)
    values = _validated(draft, local_today(network, now), settings.max_age_days)
    assert actor.user is not None
    report = await repo.create(
        session,
        network_id=network.id,
        author_id=actor.user.id,
        author_sector=membership.sector,
        status=ReportStatus.NEW,
        created_at=now,
        **values,
    )
    await session.commit()
    return report


async def _own_editable(
    session: AsyncSession, actor: Actor, report_id: int, now: datetime
) -> Report:
    report = await repo.get(session, report_id)
    if report is None:
        raise ReportError(Problem.GONE)
    if actor.user is None or report.author_id != actor.user.id:
        raise AccessDenied(f"user {actor.tg_id} did not write report {report_id}")
    _membership(actor, report.network_id)
    if now - report.created_at > EDIT_WINDOW:
        raise ReportError(Problem.TOO_LATE)
    return report


async def editable(session: AsyncSession, actor: Actor, report_id: int, now: datetime) -> Report:
    """The actor's own report, if it may still be fixed or withdrawn."""
    return await _own_editable(session, actor, report_id, now)


async def update(
    session: AsyncSession, actor: Actor, report_id: int, draft: Draft, now: datetime
) -> Report:
    report = await _own_editable(session, actor, report_id, now)
    network = await networks.get(session, report.network_id)
    assert network is not None
    settings = await get_settings(session, network.id)
    today = local_today(network, now)
    # A report filed at the edge of the window keeps its date when fixed later.
    max_age = max(settings.max_age_days, (today - report.activity_date).days)
    for key, value in _validated(draft, today, max_age).items():
        setattr(report, key, value)
    report.updated_at = now
    await session.commit()
    return report


async def withdraw(session: AsyncSession, actor: Actor, report_id: int, now: datetime) -> str:
    """Delete one's own report (within 24 h). Returns its reference."""
    report = await _own_editable(session, actor, report_id, now)
    ref = report.reference
    network_id = report.network_id
    await repo.remove(session, report.id)
    await audit.record(
        session,
        "report_withdraw",
        actor_id=actor.user.id if actor.user else None,
        network_id=network_id,
        report=ref,
    )
    await session.commit()
    return ref


def can_edit(report: Report, now: datetime) -> bool:
    return now - report.created_at <= EDIT_WINDOW


async def my_reports(
    session: AsyncSession, actor: Actor, limit: int = MY_REPORTS_SHOWN
) -> tuple[Sequence[Report], dict[int, Network]]:
    if actor.user is None:
        return [], {}
    rows = await repo.by_author(session, actor.user.id, limit)
    nets = await networks.list_by_ids(session, sorted({r.network_id for r in rows}))
    return rows, {n.id: n for n in nets}


# ---------------------------------------------------------------- coordinators


@dataclass(frozen=True)
class ReportPage:
    network: Network
    rows: list[ReportRow]
    total: int
    page: int
    pages: int
    activity_type: str
    days: int


async def list_reports(
    session: AsyncSession,
    actor: Actor,
    network_id: int,
    *,
    page: int,
    activity_type: str,
    days: int,
    now: datetime,
) -> ReportPage:
    actor.require_coordinator(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise AccessDenied(f"no network {network_id}")
    if activity_type and activity_type not in ActivityType.__members__.values():
        activity_type = ""
    if days not in PERIOD_CHOICES:
        days = 0
    since = local_today(network, now) - timedelta(days=days - 1) if days else None
    page = max(0, page)
    rows, total = await repo.page(
        session,
        network_id,
        activity_type=activity_type or None,
        since=since,
        offset=page * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    if page >= pages and total:
        return await list_reports(
            session,
            actor,
            network_id,
            page=pages - 1,
            activity_type=activity_type,
            days=days,
            now=now,
        )
    return ReportPage(network, rows, total, page, pages, activity_type, days)


async def open_report(
    session: AsyncSession, actor: Actor, report_id: int
) -> tuple[ReportRow, Network]:
    """A report for a coordinator of its network. Unknown ids are refused like foreign ones."""
    row = await repo.get_row(session, report_id)
    if row is None:
        raise AccessDenied(f"no report {report_id}")
    actor.require_coordinator(row.report.network_id)
    network = await networks.get(session, row.report.network_id)
    assert network is not None
    return row, network


async def review(
    session: AsyncSession,
    actor: Actor,
    report_id: int,
    status: ReportStatus,
    note: str | None,
    now: datetime,
) -> tuple[ReportRow, Network]:
    row, network = await open_report(session, actor, report_id)
    report = row.report
    if status == ReportStatus.FLAGGED:
        report.review_note = clean_note(note or "")
    elif status == ReportStatus.REVIEWED:
        report.review_note = None
    else:
        raise ValueError(status)
    report.status = status
    report.reviewed_by_id = actor.user.id if actor.user else None
    report.reviewed_at = now
    await session.commit()
    return row, network


# -------------------------------------------------------------------------- export

PERIODS = ("week", "lastweek", "month", "lastmonth", "30", "all")


def period_range(
    period: str, network: Network, weekend: str | None, now: datetime
) -> tuple[date | None, date | None]:
    today = local_today(network, now)
    if period == "all":
        return None, None
    if period == "30":
        return today - timedelta(days=29), today
    if period in ("week", "lastweek"):
        start = today - timedelta(days=(today.weekday() - week_start(network, weekend)) % 7)
        if period == "week":
            return start, today
        return start - timedelta(days=7), start - timedelta(days=1)
    if period in ("month", "lastmonth"):
        first = today.replace(day=1)
        if period == "month":
            return first, today
        last = first - timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(f"unknown period {period!r}")


@dataclass(frozen=True)
class Export:
    network: Network
    since: date | None
    until: date | None
    count: int
    files: dict[str, bytes]  # format -> content

    def filename(self, fmt: str) -> str:
        since = self.since.isoformat() if self.since else "start"
        until = self.until.isoformat() if self.until else "now"
        return f"reports-{self.network.slug}-{since}-{until}.{fmt}"


EXPORT_FORMATS = ("csv", "xlsx")


def export_sheet(network: Network, rows: Sequence[ReportRow], locale: str) -> Sheet:
    """The export table, labelled in the current gettext locale."""
    tz = tz_of(network)
    headers = [
        _("Reference"),
        _("Date"),
        _("Network"),
        _("Activity type"),
        _("Participants"),
        _("Age group"),
        _("Description"),
        _("Sector of the author"),
        _("Author"),
        _("Status"),
        _("Created at"),
    ]
    body = [
        [
            r.report.reference,
            r.report.activity_date,
            network.name,
            activity_label(r.report.activity_type),
            r.report.participants,
            age_label(r.report.age_group),
            r.report.description,
            sector_label(r.report.author_sector),
            r.author_name or "",
            report_status_label(r.report.status),
            r.report.created_at.astimezone(tz).replace(tzinfo=None),
        ]
        for r in rows
    ]
    return Sheet(
        title=_("Reports"), headers=headers, rows=body, rtl=locale == "ar", wrap=frozenset({6})
    )


async def export_reports(
    session: AsyncSession,
    *,
    network_id: int,
    since: date | None,
    until: date | None,
    formats: Sequence[str],
    locale: str,
    actor: Actor | None,
    now: datetime,
) -> Export:
    """One network's reports in a period (inclusive, by activity date), as files.
    ``actor=None`` is the command line. Audit-logged."""
    if actor is not None:
        actor.require_coordinator(network_id)
    network = await networks.get(session, network_id)
    if network is None:
        raise LookupError(f"no network {network_id}")
    if since is not None and until is not None and since > until:
        raise ReportError(Problem.BAD_RANGE)
    unknown = set(formats) - set(EXPORT_FORMATS)
    if unknown or not formats:
        raise ValueError(f"formats must be among {EXPORT_FORMATS}")
    rows = await repo.for_export(session, network_id, since, until)
    sheet = export_sheet(network, rows, locale)
    files = {fmt: (to_csv(sheet) if fmt == "csv" else to_xlsx(sheet)) for fmt in formats}
    await audit.record(
        session,
        "export",
        actor_id=actor.user.id if actor is not None and actor.user is not None else None,
        network_id=network_id,
        what="reports",
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        rows=len(rows),
        formats=list(formats),
        via="bot" if actor is not None else "cli",
        at=now.isoformat(),
    )
    await session.commit()
    return Export(network, since, until, len(rows), files)


# --------------------------------------------------------------------------- texts


def fmt_date(day: date, locale: str, form: str = "medium") -> str:
    return format_date(day, format=form, locale=locale)


def fmt_number(n: int, locale: str) -> str:
    return format_decimal(n, locale=locale)


def participants_text(n: int, locale: str) -> str:
    return _("{n} participant", "{n} participants", n).format(n=fmt_number(n, locale))


def summary(
    *,
    activity_type: str,
    day: date,
    participants: int,
    age: str | None,
    description: str,
    file_kind: str | None,
    network: Network | None,
    locale: str,
) -> str:
    """A report's fields, one per line (HTML, user text escaped)."""
    head = f"<b>{escape(activity_label(activity_type))}</b>"
    if network is not None:
        head += f" · {escape(network.name)}"
    people = participants_text(participants, locale)
    if age:
        people += f" · {escape(age_label(age))}"
    lines = [
        head,
        f"📅 {fmt_date(day, locale, 'long')}",
        f"👥 {people}",
        f"📝 {escape(description)}",
    ]
    if file_kind == AttachmentKind.PHOTO:
        lines.append("📎 " + _("Photo attached"))
    elif file_kind == AttachmentKind.DOCUMENT:
        lines.append("📎 " + _("Document attached"))
    return "\n".join(lines)


def draft_summary(draft: Draft, network: Network | None, locale: str) -> str:
    return summary(
        activity_type=draft["type"],
        day=date.fromisoformat(draft["date"]),
        participants=int(draft["participants"]),
        age=draft.get("age") or None,
        description=draft["description"],
        file_kind=draft.get("file_kind"),
        network=network,
        locale=locale,
    )


def report_summary(report: Report, network: Network | None, locale: str) -> str:
    return summary(
        activity_type=report.activity_type,
        day=report.activity_date,
        participants=report.participants,
        age=report.age_group,
        description=report.description,
        file_kind=report.attachment_kind,
        network=network,
        locale=locale,
    )


def author_text(row: ReportRow) -> str:
    name = escape(row.author_name) if row.author_name else _("former member")
    return f"{name} ({escape(sector_label(row.report.author_sector))})"


STATUS_MARKS = {ReportStatus.REVIEWED.value: " ✓", ReportStatus.FLAGGED.value: " ⚑"}


def status_mark(status: str) -> str:
    return STATUS_MARKS.get(status, "")


def list_line(row: ReportRow, locale: str) -> str:
    r = row.report
    parts = (
        r.reference,
        fmt_date(r.activity_date, locale),
        escape(activity_label(r.activity_type)),
        participants_text(r.participants, locale),
        author_text(row),
    )
    return " · ".join(parts) + status_mark(r.status)


def problem_text(error: ReportError, locale: str) -> str:
    """What went wrong, in the current locale, with the numbers the member needs."""
    info = error.info
    if error.problem == Problem.BAD_DATE:
        return _(
            "Please type the date as YYYY-MM-DD, for example {example}, or use a button."
        ).format(example=info.get("example", "2025-03-14"))
    if error.problem == Problem.FUTURE_DATE:
        return _("This date is in the future. Please report activities that already took place.")
    if error.problem == Problem.TOO_OLD:
        days = info["days"]
        return (
            _(
                "This date is more than {n} day ago.", "This date is more than {n} days ago.", days
            ).format(n=fmt_number(days, locale))
            + " "
            + _("Please ask your coordinator if you need to report an older activity.")
        )
    if error.problem == Problem.NOT_A_NUMBER:
        return _("Please send just the number of participants, for example 20.")
    if error.problem == Problem.TOO_MANY:
        return _("That is more than {max} participants. Please check the number.").format(
            max=fmt_number(info["max"], locale)
        )
    if error.problem == Problem.EMPTY:
        return _("Please write a few words.")
    if error.problem == Problem.TOO_LONG:
        return _(
            "Your text has {length} characters; the limit is {max}. Please shorten it "
            "and send it again."
        ).format(length=fmt_number(info["length"], locale), max=fmt_number(info["max"], locale))
    if error.problem == Problem.TOO_LATE:
        return _("Reports can only be changed or withdrawn within 24 hours.")
    if error.problem == Problem.GONE:
        return _("This report no longer exists.")
    if error.problem == Problem.BAD_RANGE:
        return _("The first date must not be after the second one.")
    return _("Something is missing in this report. Please start again with /report.")


def day_names(days: Sequence[int], locale: str) -> str:
    names = get_day_names("wide", locale=locale)
    return join_list((str(names[d]) for d in days), locale)


# ------------------------------------------------------------------- notices


def _network_locales(recipient_locales: set[str], default: str) -> list[str]:
    return sorted({loc if loc in SUPPORTED_LOCALES else default for loc in recipient_locales})


def notice_payload(
    i18n: I18n, network: Network, rows: Sequence[ReportRow], locales: Sequence[str]
) -> dict[str, Any]:
    """One message to the coordinators about new reports, rendered once per locale."""
    variants: dict[str, dict[str, Any]] = {}
    labels: dict[str, dict[str, str]] = {}
    for locale in locales:
        with i18n.context(), i18n.use_locale(locale):
            if len(rows) == 1:
                row = rows[0]
                text = (
                    _("New activity report {ref} from {author}:").format(
                        ref=row.report.reference, author=author_text(row)
                    )
                    + "\n\n"
                    + report_summary(row.report, network, locale)
                )
                if len(text) > 1200:
                    text = text[:1200].rsplit(" ", 1)[0] + " …"
            else:
                lines = [
                    _(
                        "{n} new activity report in <b>{network}</b>:",
                        "{n} new activity reports in <b>{network}</b>:",
                        len(rows),
                    ).format(n=fmt_number(len(rows), locale), network=escape(network.name))
                ]
                lines += ["• " + list_line(r, locale) for r in rows[:NOTICE_LINES]]
                if len(rows) > NOTICE_LINES:
                    more = len(rows) - NOTICE_LINES
                    lines.append(_("… and {n} more.").format(n=fmt_number(more, locale)))
                text = "\n".join(lines)
            variants[locale] = {"text": text}
            labels[locale] = {"open": _("Open"), "all": _("All reports")}
    buttons: list[list[dict[str, Any]]] = []
    row_buttons: list[dict[str, Any]] = []
    for r in rows[:NOTICE_BUTTONS]:
        texts = {loc: f"{labels[loc]['open']} {r.report.reference}" for loc in locales}
        row_buttons.append(
            {"text": texts, "callback_data": RepViewCb(report_id=r.report.id).pack()}
        )
        if len(row_buttons) == 2:
            buttons.append(row_buttons)
            row_buttons = []
    if row_buttons:
        buttons.append(row_buttons)
    if len(rows) > 1:
        buttons.append(
            [
                {
                    "text": {loc: labels[loc]["all"] for loc in locales},
                    "callback_data": RepListCb(network_id=network.id).pack(),
                }
            ]
        )
    first = locales[0]
    return {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
        "buttons": buttons,
    }


async def notify_new_reports(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    now: datetime,
) -> int:
    """Queue one notice per network with new reports. Returns how many reports were
    notified. Each network's reports are claimed and its notice queued in one
    transaction, so a crash or a second process neither loses nor repeats a notice."""
    async with session_pool() as session:
        network_ids = await repo.networks_to_notify(
            session, quiet_before=now - NOTIFY_QUIET, stale_before=now - NOTIFY_MAX_WAIT
        )
    done = 0
    for network_id in network_ids:
        async with session_pool() as session:
            ids = await repo.claim_unnotified(session, network_id, now)
            if not ids:
                await session.rollback()
                continue
            rows = await repo.rows_by_ids(session, ids)
            network = await networks.get(session, network_id)
            assert network is not None
            authors = {r.report.author_id for r in rows}
            recipients = [
                Recipient(u.id, u.tg_id, u.language or i18n.default_locale)
                for u in await memberships.coordinators(session, network_id)
                if not authors <= {u.id}  # nobody is told of their own reports only
            ]
            if not recipients:
                await session.commit()
                done += len(ids)
                continue
            locales = _network_locales({r.locale for r in recipients}, i18n.default_locale)
            payload = notice_payload(i18n, network, rows, locales)
            await delivery.enqueue(
                session,
                kind=NOTICE_KIND,
                payload=payload,
                recipients=recipients,
                network_id=network_id,
            )
            done += len(ids)
    return done


def nudge_payload(
    i18n: I18n, network: Network, days: int, locales: Sequence[str]
) -> dict[str, Any]:
    variants: dict[str, dict[str, Any]] = {}
    labels: dict[str, str] = {}
    for locale in locales:
        with i18n.context(), i18n.use_locale(locale):
            variants[locale] = {
                "text": _(
                    "Hello! No activity report from you in <b>{network}</b> for {n} day. "
                    "Did you run or attend an activity lately? Reporting it takes half a "
                    "minute.",
                    "Hello! No activity report from you in <b>{network}</b> for {n} days. "
                    "Did you run or attend an activity lately? Reporting it takes half a "
                    "minute.",
                    days,
                ).format(network=escape(network.name), n=fmt_number(days, locale))
            }
            labels[locale] = "📝 " + _("Report an activity")
    first = locales[0]
    return {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
        "buttons": [[{"text": labels, "callback_data": RepStartCb(network_id=network.id).pack()}]],
    }


async def send_nudges(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    now: datetime,
) -> int:
    """Nudge the members who are due, in networks where it is a good time. Returns how
    many people were nudged."""
    async with session_pool() as session:
        candidates = await repo.nudging_networks(session)
    nudged = 0
    for settings, network in candidates:
        if not in_nudge_window(network, settings.weekend, now):
            continue
        async with session_pool() as session:
            if not await repo.claim_nudge_run(session, network.id, now, now - NUDGE_RUN_GAP):
                await session.rollback()
                continue
            cutoff = now - timedelta(days=settings.nudge_days)
            targets = await repo.due_for_nudge(session, network.id, cutoff)
            if not targets:
                await session.commit()
                continue
            await repo.record_nudges(session, network.id, [t.user_id for t in targets], now)
            recipients = [
                Recipient(t.user_id, t.tg_id, t.language or network.locale or i18n.default_locale)
                for t in targets
            ]
            locales = _network_locales({r.locale for r in recipients}, i18n.default_locale)
            await delivery.enqueue(
                session,
                kind=NUDGE_KIND,
                payload=nudge_payload(i18n, network, settings.nudge_days, locales),
                recipients=recipients,
                network_id=network.id,
            )
            nudged += len(targets)
            log.info("nudged %d members of network %s to report", len(targets), network.slug)
    return nudged


# ------------------------------------------------------------------------------ jobs


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler."""

    async def notify() -> None:
        await notify_new_reports(ctx.session_pool, ctx.delivery, ctx.i18n, utcnow())

    async def nudge() -> None:
        await send_nudges(ctx.session_pool, ctx.delivery, ctx.i18n, utcnow())

    ctx.scheduler.add_job(
        notify,
        "interval",
        seconds=NOTIFY_INTERVAL,
        id="reports.notify",
        replace_existing=True,
        misfire_grace_time=NOTIFY_INTERVAL * 2,
    )
    # A minute after each hour, so networks on the half hour (none here) still get one run.
    ctx.scheduler.add_job(nudge, "cron", minute=1, id="reports.nudge", replace_existing=True)
