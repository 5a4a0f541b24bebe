"""The coordinators' dashboard: the SQL behind bot/services/dashboard. Each function takes
a list of network ids (the ones the person may see, decided by the service) and runs a
fixed number of GROUP BY statements, never a query per member. Portable SQL; nothing here
commits. Names are encrypted (storage/crypto.py): they are sorted in Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import Membership, MembershipStatus, Role, User
from storage.models.events import Answer, Event, EventRsvp, EventStatus
from storage.models.reports import Report, ReportNudge
from storage.repositories.digests.figures import Window, chunks, per_window, reported_in
from storage.repositories.reports import ReportRow, rows_where


@dataclass(frozen=True, slots=True)
class MemberLine:
    membership_id: int
    network_id: int
    user_id: int
    tg_id: int
    name: str | None
    language: str | None
    role: str
    since: datetime  # approved (or joined, without approval)
    unreachable: bool


@dataclass(slots=True)
class Record:
    """One member's figures in one network over a period."""

    reports: int = 0
    last_report: date | None = None  # of any date, not only the period's
    answers: dict[str, int] = field(default_factory=dict)  # going / maybe / no
    attended: int = 0
    nudged_at: datetime | None = None


@dataclass(slots=True)
class EventLine:
    event: Event
    answers: dict[str, int] = field(default_factory=dict)
    marked: bool = False  # a coordinator marked attendance of someone
    attended: int = 0
    no_shows: int = 0  # said "going" and were not marked as there


@dataclass(slots=True)
class WeekTotals:
    """One network's week at a glance, counted as its digest counts it (the same windows
    and conditions: storage/repositories/digests/figures.py)."""

    activities: int = 0
    participants: int = 0
    reporters: int = 0  # members (not coordinators) with a report in the window
    members: int = 0  # active members (not coordinators)


async def member_counts(session: AsyncSession, network_ids: Sequence[int]) -> dict[int, int]:
    """Network id -> active members (not coordinators)."""
    out: dict[int, int] = {}
    for ids in chunks(sorted(network_ids)):
        rows = await session.execute(
            select(Membership.network_id, func.count())
            .where(
                Membership.network_id.in_(ids),
                Membership.status == MembershipStatus.ACTIVE,
                Membership.role == Role.MEMBER,
            )
            .group_by(Membership.network_id)
        )
        out.update((net, int(n)) for net, n in rows.all())
    return out


async def week_totals(
    session: AsyncSession, windows: dict[int, Window], members: dict[int, int]
) -> dict[int, WeekTotals]:
    """Network id -> its totals for its window: two GROUP BY statements (per chunk of
    networks), the figures the digest's collector would give for the same windows
    (activities and participants of the reports in the window; members who reported),
    without the rest of the digest (names, events, broadcasts, plans)."""
    out = {net: WeekTotals(members=members.get(net, 0)) for net in windows}
    if not windows:
        return out
    for condition in per_window(windows, Report.network_id, reported_in):
        rows = await session.execute(
            select(
                Report.network_id,
                func.count(),
                func.coalesce(func.sum(Report.participants), 0),
            )
            .where(condition)
            .group_by(Report.network_id)
        )
        for net, n, people in rows.all():
            out[net].activities, out[net].participants = int(n), int(people)
    for condition in per_window(windows, Report.network_id, reported_in):
        authors = await session.execute(
            select(Report.network_id, func.count(func.distinct(Report.author_id)))
            .join(
                Membership,
                and_(
                    Membership.user_id == Report.author_id,
                    Membership.network_id == Report.network_id,
                ),
            )
            .where(
                condition,
                Membership.status == MembershipStatus.ACTIVE,
                Membership.role == Role.MEMBER,
            )
            .group_by(Report.network_id)
        )
        for net, n in authors.all():
            out[net].reporters = int(n)
    return out


async def active_members(session: AsyncSession, network_ids: Sequence[int]) -> list[MemberLine]:
    if not network_ids:
        return []
    rows = await session.execute(
        select(
            Membership.id,
            Membership.network_id,
            User.id,
            User.tg_id,
            User.display_name,
            User.language,
            Membership.role,
            func.coalesce(Membership.approved_at, Membership.joined_at),
            User.unreachable_since,
        )
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.network_id.in_(network_ids),
            Membership.status == MembershipStatus.ACTIVE,
        )
        .order_by(Membership.network_id, Membership.id)
    )
    out = [
        MemberLine(mid, net, uid, tg, name, lang, role, since, unreachable is not None)
        for mid, net, uid, tg, name, lang, role, since, unreachable in rows.all()
    ]
    return sorted(out, key=lambda m: (m.network_id, (m.name or "").casefold(), m.user_id))


async def member(session: AsyncSession, membership_id: int) -> MemberLine | None:
    """One active membership by id (None: unknown or pending)."""
    rows = await session.execute(
        select(
            Membership.id,
            Membership.network_id,
            User.id,
            User.tg_id,
            User.display_name,
            User.language,
            Membership.role,
            func.coalesce(Membership.approved_at, Membership.joined_at),
            User.unreachable_since,
        )
        .join(User, User.id == Membership.user_id)
        .where(Membership.id == membership_id, Membership.status == MembershipStatus.ACTIVE)
    )
    row = rows.first()
    if row is None:
        return None
    mid, net, uid, tg, name, lang, role, since, unreachable = row
    return MemberLine(mid, net, uid, tg, name, lang, role, since, unreachable is not None)


async def records(
    session: AsyncSession,
    network_ids: Sequence[int],
    *,
    since: date,
    until: date,
    events_from: datetime,
    events_until: datetime,
) -> dict[tuple[int, int], Record]:
    """(network id, user id) -> reports dated ``since``..``until``, the last report of any
    date, the answers to and attendance of the events starting in
    ``events_from``..``events_until`` (cancelled ones left out), and the last nudge."""
    out: dict[tuple[int, int], Record] = {}
    if not network_ids:
        return out

    def rec(net: int, uid: int) -> Record:
        return out.setdefault((net, uid), Record())

    counted = await session.execute(
        select(Report.network_id, Report.author_id, func.count())
        .where(
            Report.network_id.in_(network_ids),
            Report.author_id.is_not(None),
            Report.activity_date.between(since, until),
        )
        .group_by(Report.network_id, Report.author_id)
    )
    for net, uid, n in counted.all():
        if uid is not None:
            rec(net, uid).reports = int(n)
    last = await session.execute(
        select(Report.network_id, Report.author_id, func.max(Report.activity_date))
        .where(Report.network_id.in_(network_ids), Report.author_id.is_not(None))
        .group_by(Report.network_id, Report.author_id)
    )
    for net, uid, day in last.all():
        if uid is not None:
            rec(net, uid).last_report = day
    in_period = and_(
        Event.network_id.in_(network_ids),
        Event.status == EventStatus.SCHEDULED,
        Event.starts_at >= events_from,
        Event.starts_at < events_until,
    )
    answered = await session.execute(
        select(Event.network_id, EventRsvp.user_id, EventRsvp.answer, func.count())
        .join(Event, Event.id == EventRsvp.event_id)
        .where(in_period, EventRsvp.answer.is_not(None))
        .group_by(Event.network_id, EventRsvp.user_id, EventRsvp.answer)
    )
    for net, uid, answer, n in answered.all():
        if answer is not None:
            rec(net, uid).answers[answer] = int(n)
    came = await session.execute(
        select(Event.network_id, EventRsvp.user_id, func.count())
        .join(Event, Event.id == EventRsvp.event_id)
        .where(in_period, EventRsvp.attended.is_(True))
        .group_by(Event.network_id, EventRsvp.user_id)
    )
    for net, uid, n in came.all():
        rec(net, uid).attended = int(n)
    nudged = await session.execute(
        select(ReportNudge.network_id, ReportNudge.user_id, ReportNudge.nudged_at).where(
            ReportNudge.network_id.in_(network_ids)
        )
    )
    for net, uid, at in nudged.all():
        rec(net, uid).nudged_at = at
    return out


async def event_counts(
    session: AsyncSession, network_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, int]:
    """Network id -> events (not cancelled) starting in ``start``..``end``."""
    if not network_ids:
        return {}
    rows = await session.execute(
        select(Event.network_id, func.count())
        .where(
            Event.network_id.in_(network_ids),
            Event.status == EventStatus.SCHEDULED,
            Event.starts_at >= start,
            Event.starts_at < end,
        )
        .group_by(Event.network_id)
    )
    return {net: int(n) for net, n in rows.all()}


async def events(
    session: AsyncSession,
    network_ids: Sequence[int],
    *,
    upcoming: bool,
    now: datetime,
    limit: int,
) -> list[EventLine]:
    """Events not cancelled, with their answers and attendance: the next ones (ending
    after ``now``, soonest first) or the past ones (ended, latest first)."""
    if not network_ids:
        return []
    when: ColumnElement[bool] = Event.ends_at > now if upcoming else Event.ends_at <= now
    order = (Event.starts_at, Event.id) if upcoming else (Event.starts_at.desc(), Event.id.desc())
    found = (
        await session.scalars(
            select(Event)
            .where(
                Event.network_id.in_(network_ids),
                Event.status == EventStatus.SCHEDULED,
                when,
            )
            .order_by(*order)
            .limit(limit)
        )
    ).all()
    lines = {e.id: EventLine(e) for e in found}
    if not lines:
        return []
    rows = await session.execute(
        select(EventRsvp.event_id, EventRsvp.answer, EventRsvp.attended, func.count())
        .where(EventRsvp.event_id.in_(list(lines)))
        .group_by(EventRsvp.event_id, EventRsvp.answer, EventRsvp.attended)
    )
    for eid, answer, attended, n in rows.all():
        line = lines[eid]
        n = int(n)
        if answer is not None:
            line.answers[answer] = line.answers.get(answer, 0) + n
        if attended is not None:
            line.marked = True
        if attended:
            line.attended += n
        elif answer == Answer.GOING:
            line.no_shows += n
    return [lines[e.id] for e in found]


async def activity_by_day(
    session: AsyncSession, network_ids: Sequence[int], since: date, until: date
) -> list[tuple[date, str, int, int]]:
    """(activity date, type, reports, participants) over ``since``..``until``."""
    if not network_ids:
        return []
    rows = await session.execute(
        select(
            Report.activity_date,
            Report.activity_type,
            func.count(),
            func.coalesce(func.sum(Report.participants), 0),
        )
        .where(
            Report.network_id.in_(network_ids),
            Report.activity_date.between(since, until),
        )
        .group_by(Report.activity_date, Report.activity_type)
    )
    return [(day, kind, int(n), int(people)) for day, kind, n, people in rows.all()]


@dataclass(frozen=True, slots=True)
class FeedFilter:
    network_ids: Sequence[int]
    activity_type: str | None = None
    since: date | None = None
    until: date | None = None
    author_id: int | None = None
    status: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [Report.network_id.in_(list(self.network_ids))]
        if self.activity_type:
            out.append(Report.activity_type == self.activity_type)
        if self.since is not None:
            out.append(Report.activity_date >= self.since)
        if self.until is not None:
            out.append(Report.activity_date <= self.until)
        if self.author_id is not None:
            out.append(Report.author_id == self.author_id)
        if self.status:
            out.append(Report.status == self.status)
        return out


async def feed(
    session: AsyncSession, where: FeedFilter, *, before: int | None, limit: int
) -> list[ReportRow]:
    """Matching reports, newest activity first; ``before``: after that report in this order."""
    if not where.network_ids:
        return []
    conditions = where.conditions()
    if before is not None:
        day = await session.scalar(
            select(Report.activity_date).where(
                Report.id == before, Report.network_id.in_(list(where.network_ids))
            )
        )
        if day is None:
            return []
        conditions.append(
            or_(
                Report.activity_date < day,
                and_(Report.activity_date == day, Report.id < before),
            )
        )
    return await rows_where(session, *conditions, limit=limit)


async def for_export(session: AsyncSession, where: FeedFilter) -> list[ReportRow]:
    """Every matching report, oldest first."""
    if not where.network_ids:
        return []
    return await rows_where(session, *where.conditions(), newest_first=False)


async def membership_of(session: AsyncSession, user_id: int, network_id: int) -> int | None:
    """The id of a person's active membership of a network."""
    return await session.scalar(
        select(Membership.id).where(
            Membership.user_id == user_id,
            Membership.network_id == network_id,
            Membership.status == MembershipStatus.ACTIVE,
        )
    )


async def coordinator_chats(session: AsyncSession) -> list[tuple[int, str | None]]:
    """(Telegram id, language) of everyone who coordinates a network, once each."""
    rows = await session.execute(
        select(User.tg_id, User.language)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == "coordinator", Membership.status == MembershipStatus.ACTIVE)
        .group_by(User.tg_id, User.language)
        .order_by(User.tg_id)
    )
    return [(tg, lang) for tg, lang in rows.all()]


async def people_chats(
    session: AsyncSession, tg_ids: Sequence[int]
) -> list[tuple[int, str | None]]:
    """(Telegram id, language) of these people, for those who have talked to the bot."""
    ids = sorted(set(tg_ids))
    if not ids:
        return []
    rows = await session.execute(
        select(User.tg_id, User.language).where(User.tg_id.in_(ids)).order_by(User.tg_id)
    )
    return [(tg, lang) for tg, lang in rows.all()]
