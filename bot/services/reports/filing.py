"""Members filing, fixing and withdrawing their reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor
from bot.services.reports.rules import (
    EDIT_WINDOW,
    MY_REPORTS_SHOWN,
    Draft,
    Problem,
    ReportError,
    _validated,
    local_today,
)
from bot.services.reports.settings import get_settings
from storage.models import Membership, Network
from storage.models.plans import ActionStatus
from storage.models.reports import (
    Report,
    ReportStatus,
)
from storage.repositories import audit, networks
from storage.repositories import plans as plans_repo
from storage.repositories import reports as repo


async def _action_of(session: AsyncSession, draft: Draft, network_id: int) -> int | None:
    """The plan's action chosen in the dialog, if it is one of this network's and not
    dropped (a stale or forged id is left out, never stored)."""
    try:
        action_id = int(draft.get("action_id") or 0)
    except (TypeError, ValueError):
        return None
    if not action_id:
        return None
    action = await plans_repo.get_action(session, action_id)
    if action is None or action.network_id != network_id or action.status == ActionStatus.DROPPED:
        return None
    return action.id


async def action_titles(session: AsyncSession, reports: Sequence[Report]) -> dict[int, str]:
    """action id -> title, for these reports' actions."""
    return await plans_repo.titles(session, [r.action_id for r in reports if r.action_id])


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
        action_id=await _action_of(session, draft, network.id),
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
    report.action_id = await _action_of(session, draft, network.id)
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
