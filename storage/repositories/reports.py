"""Activity reports, their per-network settings and nudges: the SQL behind
bot.services.reports. Portable (SQLite and PostgreSQL); nothing here commits.

An author's name is shown only while the author is still a member of the report's
network (`author_name`): once they leave it, or their data is erased, the report is
anonymous everywhere (lists, notices, exports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Membership, MembershipStatus, Network, Role, User
from storage.models.plans import PlanAction
from storage.models.reports import (
    DEFAULT_MAX_AGE_DAYS,
    DEFAULT_NUDGE_DAYS,
    Report,
    ReportNudge,
    ReportSettings,
)

BATCH = 1000
_R = cast(Table, Report.__table__)


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A report with its author's name as others may see it (None: anonymous)."""

    report: Report
    author_name: str | None
    author_tg_id: int | None = None
    author_language: str | None = None
    action_title: str | None = None  # the plan's action the report serves


@dataclass(frozen=True, slots=True)
class NudgeTarget:
    user_id: int
    tg_id: int
    language: str | None


def _still_member() -> ColumnElement[bool]:
    return exists().where(
        Membership.user_id == Report.author_id,
        Membership.network_id == Report.network_id,
        Membership.status == MembershipStatus.ACTIVE,
    )


def _with_author() -> Any:
    visible = _still_member()
    return (
        select(
            Report,
            case((visible, User.display_name), else_=None),
            case((visible, User.tg_id), else_=None),
            case((visible, User.language), else_=None),
            PlanAction.title,
        )
        .outerjoin(User, User.id == Report.author_id)
        .outerjoin(PlanAction, PlanAction.id == Report.action_id)
        .execution_options(populate_existing=True)
    )


def _rows(result: Any) -> list[ReportRow]:
    return [
        ReportRow(r, name, tg_id, lang, title) for r, name, tg_id, lang, title in result.all()
    ]


# ---------------------------------------------------------------------------- reports


async def create(session: AsyncSession, **values: Any) -> Report:
    report = Report(**values)
    session.add(report)
    await session.flush()
    return report


async def get(session: AsyncSession, report_id: int) -> Report | None:
    return await session.get(Report, report_id, populate_existing=True)


async def get_row(session: AsyncSession, report_id: int) -> ReportRow | None:
    rows = _rows(await session.execute(_with_author().where(Report.id == report_id)))
    return rows[0] if rows else None


async def remove(session: AsyncSession, report_id: int) -> None:
    await session.execute(delete(Report).where(Report.id == report_id))


async def by_author(
    session: AsyncSession, user_id: int, limit: int | None = None
) -> Sequence[Report]:
    """A person's reports, newest first, in every network."""
    query = (
        select(Report)
        .where(Report.author_id == user_id)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .execution_options(populate_existing=True)
    )
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


def _filters(
    network_id: int,
    activity_type: str | None,
    since: date | None,
    until: date | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Report.network_id == network_id]
    if activity_type:
        conditions.append(Report.activity_type == activity_type)
    if since is not None:
        conditions.append(Report.activity_date >= since)
    if until is not None:
        conditions.append(Report.activity_date <= until)
    return conditions


async def page(
    session: AsyncSession,
    network_id: int,
    *,
    activity_type: str | None = None,
    since: date | None = None,
    until: date | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[ReportRow], int]:
    """One page of a network's reports, newest activity first, and how many match."""
    conditions = _filters(network_id, activity_type, since, until)
    total = int(
        await session.scalar(select(func.count()).select_from(Report).where(*conditions)) or 0
    )
    rows = _rows(
        await session.execute(
            _with_author()
            .where(*conditions)
            .order_by(Report.activity_date.desc(), Report.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    return rows, total


async def for_export(
    session: AsyncSession, network_id: int, since: date | None, until: date | None
) -> list[ReportRow]:
    """Every report of one network in a period, oldest first (ties by reference)."""
    return _rows(
        await session.execute(
            _with_author()
            .where(*_filters(network_id, None, since, until))
            .order_by(Report.activity_date, Report.id)
        )
    )


async def rows_where(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    newest_first: bool = True,
    limit: int | None = None,
) -> list[ReportRow]:
    """Reports matching ``conditions`` with their authors as others may see them, newest
    activity first (ties: the newest id first), or oldest first."""
    order = (
        (Report.activity_date.desc(), Report.id.desc())
        if newest_first
        else (Report.activity_date, Report.id)
    )
    query = _with_author().where(*conditions).order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return _rows(await session.execute(query))


# ------------------------------------------------------------------ coordinators' notices


async def networks_to_notify(
    session: AsyncSession, *, quiet_before: datetime, stale_before: datetime
) -> list[int]:
    """Networks with reports not yet notified, once no new one came for a moment
    (the newest is older than ``quiet_before``) or the oldest waited long enough."""
    query = (
        select(Report.network_id)
        .where(Report.notified_at.is_(None))
        .group_by(Report.network_id)
        .having(
            or_(
                func.max(Report.created_at) <= quiet_before,
                func.min(Report.created_at) <= stale_before,
            )
        )
        .order_by(Report.network_id)
    )
    return list(await session.scalars(query))


async def claim_unnotified(session: AsyncSession, network_id: int, now: datetime) -> list[int]:
    """Atomically mark a network's unnotified reports as notified; the ids this call took."""
    ids = (
        select(_R.c.id)
        .where(_R.c.network_id == network_id, _R.c.notified_at.is_(None))
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(_R)
        .where(_R.c.id.in_(ids.scalar_subquery()), _R.c.notified_at.is_(None))
        .values(notified_at=now)
        .returning(_R.c.id)
    )
    return sorted(result.scalars())


async def rows_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[ReportRow]:
    if not ids:
        return []
    return _rows(
        await session.execute(_with_author().where(Report.id.in_(ids)).order_by(Report.id))
    )


# --------------------------------------------------------------------------- settings


async def get_settings(session: AsyncSession, network_id: int) -> ReportSettings | None:
    return await session.get(ReportSettings, network_id, populate_existing=True)


async def save_settings(
    session: AsyncSession, network_id: int, now: datetime, **values: Any
) -> ReportSettings:
    settings = await get_settings(session, network_id)
    if settings is None:
        settings = ReportSettings(
            network_id=network_id,
            nudge_enabled=False,
            nudge_days=DEFAULT_NUDGE_DAYS,
            max_age_days=DEFAULT_MAX_AGE_DAYS,
        )
        session.add(settings)
    for key, value in values.items():
        setattr(settings, key, value)
    settings.updated_at = now
    await session.flush()
    return settings


async def nudging_networks(session: AsyncSession) -> list[tuple[ReportSettings, Network]]:
    result = await session.execute(
        select(ReportSettings, Network)
        .join(Network, Network.id == ReportSettings.network_id)
        .where(ReportSettings.nudge_enabled.is_(True))
        .order_by(Network.id)
        .execution_options(populate_existing=True)
    )
    return [(s, n) for s, n in result.all()]


async def claim_nudge_run(
    session: AsyncSession, network_id: int, now: datetime, not_since: datetime
) -> bool:
    """Take this network's nudge run, unless one was taken after ``not_since``."""
    t = cast(Table, ReportSettings.__table__)
    result = await session.execute(
        update(t)
        .where(
            t.c.network_id == network_id,
            t.c.nudge_enabled.is_(True),
            or_(t.c.nudge_run_at.is_(None), t.c.nudge_run_at <= not_since),
        )
        .values(nudge_run_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due_for_nudge(
    session: AsyncSession, network_id: int, cutoff: datetime
) -> list[NudgeTarget]:
    """Active members (not coordinators) of a network, there since before ``cutoff``, who
    have reported nothing there since ``cutoff`` and were not nudged since then."""
    reported = exists().where(
        Report.network_id == network_id,
        Report.author_id == User.id,
        Report.created_at > cutoff,
    )
    nudged = exists().where(
        ReportNudge.network_id == network_id,
        ReportNudge.user_id == User.id,
        ReportNudge.nudged_at > cutoff,
    )
    result = await session.execute(
        select(User.id, User.tg_id, User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.network_id == network_id,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.role == Role.MEMBER,
            func.coalesce(Membership.approved_at, Membership.joined_at) <= cutoff,
            User.unreachable_since.is_(None),
            ~reported,
            ~nudged,
        )
        .order_by(User.id)
    )
    return [NudgeTarget(uid, tg, lang) for uid, tg, lang in result.all()]


async def claim_nudge(
    session: AsyncSession, network_id: int, user_id: int, now: datetime, day_start: datetime
) -> bool:
    """Mark one person nudged now unless they were already nudged since `day_start`: True
    when this call made the mark. The check and the mark are one statement (or an insert
    that the primary key refuses), so two nudges at the same instant cannot both claim."""
    t = cast(Table, ReportNudge.__table__)
    mine = and_(t.c.network_id == network_id, t.c.user_id == user_id)
    updated = await session.execute(
        update(t).where(mine, t.c.nudged_at < day_start).values(nudged_at=now)
    )
    if cast(Any, updated).rowcount:
        return True
    try:
        async with session.begin_nested():
            await session.execute(
                insert(t).values(network_id=network_id, user_id=user_id, nudged_at=now)
            )
    except IntegrityError:  # a mark of today exists (or was made a moment ago)
        return False
    return True


async def record_nudges(
    session: AsyncSession, network_id: int, user_ids: Sequence[int], now: datetime
) -> None:
    """Remember when these people were nudged (replacing earlier marks), in batches."""
    t = cast(Table, ReportNudge.__table__)
    for start in range(0, len(user_ids), BATCH):
        chunk = list(user_ids[start : start + BATCH])
        await session.execute(
            delete(t).where(and_(t.c.network_id == network_id, t.c.user_id.in_(chunk)))
        )
        await session.execute(
            insert(t),
            [{"network_id": network_id, "user_id": uid, "nudged_at": now} for uid in chunk],
        )
