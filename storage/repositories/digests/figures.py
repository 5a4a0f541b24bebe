"""The aggregates digests are made of, collected per batch of networks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    Broadcast,
    BroadcastNetwork,
    JobStatus,
    Membership,
    MembershipStatus,
    Role,
    SendJob,
    User,
)
from storage.models.events import Event, EventRsvp, EventStatus
from storage.models.plans import ActionStatus, PlanAction, PlanMilestone
from storage.models.reports import Report, ReportStatus
from storage.repositories.digests.schedules import CHUNK


@dataclass(frozen=True, slots=True)
class Window:
    """The periods one network's digest describes."""

    start: date  # the first of the last seven local days (six days before ``end``)
    end: date  # the last of them: the digest's own local date (today counts)
    chart_start: date  # the first day of the chart's eight weeks (ending with ``end``)
    since: datetime  # UTC: seven days before ``until``
    until: datetime  # UTC: the moment of the digest (the past ends here)
    now: datetime  # the moment of the digest; the next seven days start here


@dataclass(frozen=True, slots=True)
class MemberRow:
    network_id: int
    user_id: int
    tg_id: int
    language: str | None
    name: str | None
    role: str
    sector: str
    unreachable: bool


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    network_id: int
    kind: str
    title: str
    starts_at: datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BroadcastRow:
    id: int
    network_id: int
    preview: str
    roles: tuple[str, ...] | None
    sectors: tuple[str, ...] | None
    sent_at: datetime

    def reaches(self, role: str, sector: str) -> bool:
        if self.roles and role not in self.roles:
            return False
        return not (self.sectors and sector not in self.sectors)


@dataclass(slots=True)
class PlanRow:
    """An action under way: its reports (all of them), participants and milestones."""

    id: int
    network_id: int
    title: str
    reports: int = 0
    participants: int = 0
    overdue: int = 0  # milestones not done, due before the digest's day
    due_soon: int = 0  # milestones not done, due in the next seven days


@dataclass(slots=True)
class NetworkFigures:
    """Everything one network's digest says, aggregated."""

    activities: int = 0
    participants: int = 0
    by_type: dict[str, list[int]] = field(default_factory=dict)  # type -> [count, people]
    by_sector: dict[str, int] = field(default_factory=dict)
    reports_by_author: dict[int, int] = field(default_factory=dict)
    daily: dict[date, int] = field(default_factory=dict)  # the chart's eight weeks
    to_review: int = 0
    events_held: int = 0
    members: list[MemberRow] = field(default_factory=list)
    upcoming: list[EventRow] = field(default_factory=list)
    broadcasts: list[BroadcastRow] = field(default_factory=list)
    plan: list[PlanRow] = field(default_factory=list)  # the actions under way
    actions: dict[str, int] = field(default_factory=dict)  # status -> actions


@dataclass(slots=True)
class Collected:
    figures: dict[int, NetworkFigures]
    answers: dict[tuple[int, int], str]  # (event id, user id) -> going / maybe / no


def reported_in(w: Window) -> ColumnElement[bool]:
    """Reports of the window: dated in its seven days, or dated the day before them and
    filed after the previous digest (``since``), so that a report of the day of last
    week's digest, filed after it went out, is counted once, in this one."""
    return or_(
        Report.activity_date.between(w.start, w.end),
        and_(
            Report.activity_date == w.start - timedelta(days=1),
            Report.created_at >= w.since,
            Report.created_at < w.until,
        ),
    )


def chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


def _by_window(windows: dict[int, Window]) -> dict[Window, list[int]]:
    groups: dict[Window, list[int]] = defaultdict(list)
    for network_id, window in sorted(windows.items()):
        groups[window].append(network_id)
    return groups


def per_window(
    windows: dict[int, Window], column: Any, condition: Any
) -> list[ColumnElement[bool]]:
    """One condition per chunk: OR over the windows of (network in ids AND period)."""
    out: list[ColumnElement[bool]] = []
    pairs = [(w, ids) for w, group in _by_window(windows).items() for ids in chunks(group)]
    # Keep each statement's IN lists together within CHUNK networks.
    batch: list[ColumnElement[bool]] = []
    size = 0
    for window, ids in pairs:
        if size + len(ids) > CHUNK and batch:
            out.append(or_(*batch))
            batch, size = [], 0
        batch.append(and_(column.in_(ids), condition(window)))
        size += len(ids)
    if batch:
        out.append(or_(*batch))
    return out


async def collect(session: AsyncSession, windows: dict[int, Window]) -> Collected:
    """The figures of these networks' digests, each for its own window."""
    figures = {network_id: NetworkFigures() for network_id in windows}
    network_ids = sorted(windows)
    answers: dict[tuple[int, int], str] = {}
    if not network_ids:
        return Collected(figures, answers)

    # Members: who gets the digest, their names, roles and sectors.
    for ids in chunks(network_ids):
        member_rows = await session.execute(
            select(
                Membership.network_id,
                User.id,
                User.tg_id,
                User.language,
                User.display_name,
                Membership.role,
                Membership.sector,
                User.unreachable_since,
            )
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.network_id.in_(ids),
                Membership.status == MembershipStatus.ACTIVE,
            )
            .order_by(Membership.network_id, User.id)
        )
        for net, uid, tg, lang, name, role, sector, unreachable in member_rows.all():
            figures[net].members.append(
                MemberRow(net, uid, tg, lang, name, role, sector, unreachable is not None)
            )
    for f in figures.values():  # by name in Python: names are encrypted (storage/crypto.py)
        f.members.sort(key=lambda m: (m.name or "", m.user_id))

    # Reports of the last seven days by type and sector (totals follow).
    for condition in per_window(
        windows,
        Report.network_id,
        lambda w: reported_in(w),
    ):
        type_rows = await session.execute(
            select(
                Report.network_id,
                Report.activity_type,
                Report.author_sector,
                func.count(),
                func.coalesce(func.sum(Report.participants), 0),
            )
            .where(condition)
            .group_by(Report.network_id, Report.activity_type, Report.author_sector)
        )
        for net, kind, sector, n, people in type_rows.all():
            f = figures[net]
            n, people = int(n), int(people)
            f.activities += n
            f.participants += people
            slot = f.by_type.setdefault(kind, [0, 0])
            slot[0] += n
            slot[1] += people
            f.by_sector[sector] = f.by_sector.get(sector, 0) + n

    # Who reported in the last seven days (anonymised reports have no author).
    for condition in per_window(
        windows,
        Report.network_id,
        lambda w: reported_in(w),
    ):
        author_rows = await session.execute(
            select(Report.network_id, Report.author_id, func.count())
            .where(condition, Report.author_id.is_not(None))
            .group_by(Report.network_id, Report.author_id)
        )
        for net, author, n in author_rows.all():
            if author is not None:
                figures[net].reports_by_author[author] = int(n)

    # Activities per day over the chart's eight weeks.
    for condition in per_window(
        windows,
        Report.network_id,
        lambda w: Report.activity_date.between(w.chart_start, w.end),
    ):
        day_rows = await session.execute(
            select(Report.network_id, Report.activity_date, func.count())
            .where(condition)
            .group_by(Report.network_id, Report.activity_date)
        )
        for net, day, n in day_rows.all():
            figures[net].daily[day] = int(n)

    # Reports still to review (of any date).
    for ids in chunks(network_ids):
        review_rows = await session.execute(
            select(Report.network_id, func.count())
            .where(Report.network_id.in_(ids), Report.status == ReportStatus.NEW)
            .group_by(Report.network_id)
        )
        for net, n in review_rows.all():
            figures[net].to_review = int(n)

    # Events held in the last seven days.
    for condition in per_window(
        windows,
        Event.network_id,
        lambda w: and_(Event.starts_at >= w.since, Event.starts_at < w.until),
    ):
        held_rows = await session.execute(
            select(Event.network_id, func.count())
            .where(condition, Event.status == EventStatus.SCHEDULED)
            .group_by(Event.network_id)
        )
        for net, n in held_rows.all():
            figures[net].events_held = int(n)

    # The next seven days' events, their answer counts, and each person's own answer.
    def upcoming(w: Window) -> ColumnElement[bool]:
        return and_(Event.starts_at >= w.now, Event.starts_at < w.now + timedelta(days=7))

    events: dict[int, EventRow] = {}
    for condition in per_window(windows, Event.network_id, upcoming):
        event_rows = await session.execute(
            select(Event.id, Event.network_id, Event.kind, Event.title, Event.starts_at)
            .where(condition, Event.status == EventStatus.SCHEDULED)
            .order_by(Event.starts_at, Event.id)
        )
        for eid, net, kind, title, starts in event_rows.all():
            row = EventRow(eid, net, kind, title, starts)
            events[eid] = row
            figures[net].upcoming.append(row)
        counted = await session.execute(
            select(EventRsvp.event_id, EventRsvp.answer, func.count())
            .join(Event, Event.id == EventRsvp.event_id)
            .where(condition, Event.status == EventStatus.SCHEDULED, EventRsvp.answer.is_not(None))
            .group_by(EventRsvp.event_id, EventRsvp.answer)
        )
        for eid, answer, n in counted.all():
            if eid in events and answer is not None:
                events[eid].counts[answer] = int(n)
        own = await session.execute(
            select(EventRsvp.event_id, EventRsvp.user_id, EventRsvp.answer)
            .join(Event, Event.id == EventRsvp.event_id)
            .where(condition, Event.status == EventStatus.SCHEDULED, EventRsvp.answer.is_not(None))
        )
        for eid, uid, answer in own.all():
            if answer is not None:
                answers[(eid, uid)] = answer

    # Broadcasts that went out in the last seven days (scheduled ones once they started).
    for condition in per_window(
        windows,
        BroadcastNetwork.network_id,
        lambda w: and_(SendJob.due_at >= w.since, SendJob.due_at < w.until),
    ):
        bc_rows = await session.execute(
            select(
                BroadcastNetwork.network_id,
                Broadcast.id,
                Broadcast.preview,
                Broadcast.audience,
                SendJob.due_at,
            )
            .join(Broadcast, Broadcast.id == BroadcastNetwork.broadcast_id)
            .join(SendJob, SendJob.id == Broadcast.job_id)
            .where(condition, SendJob.status.in_((JobStatus.RUNNING, JobStatus.DONE)))
            .order_by(SendJob.due_at, Broadcast.id)
        )
        for net, bid, preview, audience, due in bc_rows.all():
            audience = audience or {}
            roles = tuple(audience.get("roles") or ()) or None
            sectors = tuple(audience.get("sectors") or ()) or None
            figures[net].broadcasts.append(BroadcastRow(bid, net, preview, roles, sectors, due))

    await _plans(session, windows, figures)
    return Collected(figures, answers)


async def _plans(
    session: AsyncSession, windows: dict[int, Window], figures: dict[int, NetworkFigures]
) -> None:
    """The action plans: actions by status, and the actions under way with their reports,
    participants and the milestones overdue or due within the next seven days."""
    for ids in chunks(sorted(windows)):
        rows = await session.execute(
            select(PlanAction.id, PlanAction.network_id, PlanAction.title, PlanAction.status)
            .where(PlanAction.network_id.in_(ids))
            .order_by(PlanAction.network_id, PlanAction.start_month, PlanAction.id)
        )
        under_way: dict[int, PlanRow] = {}
        for aid, net, title, status in rows.all():
            f = figures[net]
            f.actions[status] = f.actions.get(status, 0) + 1
            if status == ActionStatus.UNDER_WAY:
                row = under_way[aid] = PlanRow(aid, net, title)
                f.plan.append(row)
        if not under_way:
            continue
        open_ids = select(PlanAction.id).where(
            PlanAction.network_id.in_(ids), PlanAction.status == ActionStatus.UNDER_WAY
        )
        counted = await session.execute(
            select(Report.action_id, func.count(), func.coalesce(func.sum(Report.participants), 0))
            .where(Report.network_id.in_(ids), Report.action_id.in_(open_ids))
            .group_by(Report.action_id)
        )
        for action_id, n, people in counted.all():
            if action_id in under_way:
                counted_row = under_way[action_id]
                counted_row.reports, counted_row.participants = int(n), int(people)
        due = await session.execute(
            select(PlanMilestone.action_id, PlanMilestone.due_date).where(
                PlanMilestone.action_id.in_(open_ids), PlanMilestone.done.is_(False)
            )
        )
        for aid, day in due.all():
            if aid not in under_way:
                continue
            row = under_way[aid]
            today = windows[row.network_id].end
            if day < today:
                row.overdue += 1
            elif day < today + timedelta(days=7):
                row.due_soon += 1


def is_member_role(role: str) -> bool:
    return role == Role.MEMBER


async def admin_users(session: AsyncSession, tg_ids: Iterable[int]) -> Sequence[User]:
    """The users rows of the admins who have talked to the bot."""
    ids = sorted(tg_ids)
    if not ids:
        return []
    return (await session.scalars(select(User).where(User.tg_id.in_(ids)).order_by(User.id))).all()
