"""Coordinators listing, opening and reviewing reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor
from bot.services.reports.rules import PAGE_SIZE, clean_note, local_today
from storage.models import Network
from storage.models.reports import (
    PERIOD_CHOICES,
    ActivityType,
    ReportStatus,
)
from storage.repositories import networks
from storage.repositories import reports as repo
from storage.repositories.reports import ReportRow


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
