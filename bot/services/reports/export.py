"""Exporting reports as CSV or XLSX.

A file carries no Telegram id or username: the author is the name the member gave at
joining (empty once they left), or, pseudonymised, `bot.export.pseudonym` of their
internal user id. Pseudonymising replaces the author column only: a description is
free text and may still name people. Every text cell is neutralised against formula
injection (`bot.export`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.export import Sheet, pseudonym, to_csv, to_xlsx
from bot.services.access import Actor
from bot.services.reports.rules import Problem, ReportError, local_today, tz_of
from bot.services.reports.settings import week_start
from bot.text.labels import (
    activity_label,
    age_label,
    report_status_label,
    sector_label,
)
from storage.models import Network
from storage.repositories import audit, networks
from storage.repositories import reports as repo
from storage.repositories.reports import ReportRow


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
    pseudonymised: bool = False

    def filename(self, fmt: str) -> str:
        since = self.since.isoformat() if self.since else "start"
        until = self.until.isoformat() if self.until else "now"
        tail = "-pseudonymised" if self.pseudonymised else ""
        return f"reports-{self.network.slug}-{since}-{until}{tail}.{fmt}"


EXPORT_FORMATS = ("csv", "xlsx")


def _author(row: ReportRow, key: bytes | None) -> str:
    if row.report.author_id is None or row.author_tg_id is None:
        return ""  # anonymous: the author left the network (the tg id is not written)
    return (row.author_name or "") if key is None else pseudonym(key, row.report.author_id)


def export_sheet(
    network: Network, rows: Sequence[ReportRow], locale: str, pseudonym_key: bytes | None = None
) -> Sheet:
    """The export table, labelled in the current gettext locale. With ``pseudonym_key``
    the author column holds pseudonyms instead of names."""
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
        _("Author") if pseudonym_key is None else _("Author (pseudonym)"),
        _("Status"),
        _("Created at"),
        _("Action"),
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
            _author(r, pseudonym_key),
            report_status_label(r.report.status),
            r.report.created_at.astimezone(tz).replace(tzinfo=None),
            r.action_title or "",
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
    pseudonym_key: bytes | None = None,
) -> Export:
    """One network's reports in a period (inclusive, by activity date), as files.
    ``actor=None`` is the command line. ``pseudonym_key``: pseudonymised (the author column
    only). Audit-logged."""
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
    sheet = export_sheet(network, rows, locale, pseudonym_key)
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
        pseudonymised=pseudonym_key is not None,
        via="bot" if actor is not None else "cli",
        at=now.isoformat(),
    )
    await session.commit()
    return Export(network, since, until, len(rows), files, pseudonym_key is not None)
