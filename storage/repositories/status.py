"""What `prevnet status` reads: the outbox and its jobs, the event reminders (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast, Delivery, DeliveryStatus, JobStatus, Network, SendJob
from storage.models.events import Event, EventReminder, ReminderStatus

_D = cast(Table, Delivery.__table__)
_J = cast(Table, SendJob.__table__)
PENDING, SENDING, SENT, BLOCKED, FAILED = (
    s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT,
                      DeliveryStatus.BLOCKED, DeliveryStatus.FAILED)
)
SCHEDULED, RUNNING = JobStatus.SCHEDULED.value, JobStatus.RUNNING.value
R_PENDING, R_CLAIMED, R_SENT, R_SKIPPED = (
    s.value for s in (ReminderStatus.PENDING, ReminderStatus.CLAIMED, ReminderStatus.SENT,
                      ReminderStatus.SKIPPED)
)


@dataclass(frozen=True, slots=True)
class JobOverview:
    """A job as `prevnet status` shows it: its row, its title where one is stored (a
    broadcast's first line), its network's slug, and its deliveries by status."""

    id: int
    kind: str
    status: str
    network: str | None
    title: str | None
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None
    total: int
    skipped: int
    by_status: dict[str, int]
    # The earliest next_attempt_at of its pending rows: since when the oldest has been
    # due (in the future when every pending row waits for a retry or a scheduled time).
    oldest_pending: datetime | None


@dataclass(frozen=True, slots=True)
class OutboxTotals:
    """The whole outbox at a glance: jobs by status, rows waiting and in flight."""

    jobs: dict[str, int]
    pending: int
    sending: int
    due: int  # pending rows whose time has come
    oldest_due: datetime | None  # the longest-waiting of them
    oldest_sending: datetime | None  # the oldest claim in flight


async def outbox_totals(session: AsyncSession, now: datetime) -> OutboxTotals:
    """Two GROUP BY queries: jobs by status, and pending/sending rows (index on status)."""
    jobs = {
        str(status): int(count)
        for status, count in (
            await session.execute(select(_J.c.status, func.count()).group_by(_J.c.status))
        ).all()
    }
    due_at = case((_D.c.next_attempt_at <= now, _D.c.next_attempt_at))
    rows = (
        await session.execute(
            select(
                _D.c.status,
                func.count(),
                func.count(due_at),
                func.min(due_at),
                func.min(_D.c.claimed_at),
            )
            .where(_D.c.status.in_((PENDING, SENDING)))
            .group_by(_D.c.status)
        )
    ).all()
    found = {status: (int(n), int(n_due), first_due, first_claim)
             for status, n, n_due, first_due, first_claim in rows}
    pending = found.get(PENDING, (0, 0, None, None))
    sending = found.get(SENDING, (0, 0, None, None))
    return OutboxTotals(
        jobs=jobs,
        pending=pending[0],
        sending=sending[0],
        due=pending[1],
        oldest_due=_utc(pending[2]),
        oldest_sending=_utc(sending[3]),
    )


async def job_overviews(
    session: AsyncSession, *, since: datetime, limit: int
) -> list[JobOverview]:
    """Jobs scheduled or running, then those created since ``since``, newest first, at
    most ``limit``; with their counts by status from one GROUP BY over their rows."""
    active = _J.c.status.in_((SCHEDULED, RUNNING))
    jobs = (
        await session.execute(
            select(
                _J.c.id, _J.c.kind, _J.c.status, _J.c.created_at, _J.c.due_at,
                _J.c.finished_at, _J.c.total, _J.c.skipped,
                Network.slug, Broadcast.preview,
            )
            .select_from(_J)
            .outerjoin(Network, Network.id == _J.c.network_id)
            .outerjoin(Broadcast, Broadcast.job_id == _J.c.id)
            .where(or_(active, _J.c.created_at >= since))
            .order_by(case((active, 0), else_=1), _J.c.id.desc())
            .limit(limit)
        )
    ).all()
    if not jobs:
        return []
    counts: dict[int, dict[str, int]] = {}
    oldest: dict[int, datetime | None] = {}
    rows = await session.execute(
        select(_D.c.job_id, _D.c.status, func.count(), func.min(_D.c.next_attempt_at))
        .where(_D.c.job_id.in_([j.id for j in jobs]))
        .group_by(_D.c.job_id, _D.c.status)
    )
    for job_id, status, count, first in rows.all():
        counts.setdefault(job_id, {})[str(status)] = int(count)
        if status == PENDING:
            oldest[job_id] = _utc(first)
    return [
        JobOverview(
            id=j.id,
            kind=j.kind,
            status=j.status,
            network=j.slug,
            title=j.preview,
            created_at=j.created_at,
            due_at=j.due_at,
            finished_at=j.finished_at,
            total=int(j.total),
            skipped=int(j.skipped or 0),
            by_status={s: counts.get(j.id, {}).get(s, 0)
                       for s in (PENDING, SENDING, SENT, BLOCKED, FAILED)},
            oldest_pending=oldest.get(j.id),
        )
        for j in jobs
    ]


@dataclass(frozen=True, slots=True)
class ReminderTotals:
    """The reminder rows by status, for `prevnet status`."""

    by_status: dict[str, int]
    due: int  # pending rows whose time has come (a sender should take them soon)
    oldest_due: datetime | None
    next_due: datetime | None  # the next pending one still to come
    oldest_claim: datetime | None  # the oldest claim in progress
    last_done: datetime | None  # the latest sent or skipped


@dataclass(frozen=True, slots=True)
class ReminderRun:
    """One reminder sent or skipped: which event, how long before, when."""

    id: int
    network: str
    event_title: str
    offset_minutes: int
    status: str
    done_at: datetime
    note: str | None


async def reminder_totals(session: AsyncSession, now: datetime) -> ReminderTotals:
    """One GROUP BY over the reminder rows."""
    due = and_(EventReminder.status == R_PENDING, EventReminder.due_at <= now)
    rows = await session.execute(
        select(
            EventReminder.status,
            func.count(),
            func.count(case((due, 1))),
            func.min(case((due, EventReminder.due_at))),
            func.min(case((EventReminder.due_at > now, EventReminder.due_at))),
            func.min(EventReminder.claimed_at),
            func.max(EventReminder.done_at),
        ).group_by(EventReminder.status)
    )
    by_status: dict[str, int] = {}
    n_due = 0
    oldest_due = next_due = oldest_claim = last_done = None
    for status, count, n, first_due, upcoming, claim, done in rows.all():
        by_status[str(status)] = int(count)
        if status == R_PENDING:
            n_due, oldest_due, next_due = int(n), _utc(first_due), _utc(upcoming)
        elif status == R_CLAIMED:
            oldest_claim = _utc(claim)
        elif status in (R_SENT, R_SKIPPED):
            done_at = _utc(done)
            if done_at is not None and (last_done is None or done_at > last_done):
                last_done = done_at
    return ReminderTotals(
        by_status={s: by_status.get(s, 0) for s in (R_PENDING, R_CLAIMED, R_SENT, R_SKIPPED)},
        due=n_due,
        oldest_due=oldest_due,
        next_due=next_due,
        oldest_claim=oldest_claim,
        last_done=last_done,
    )


async def recent_reminder_runs(session: AsyncSession, limit: int = 5) -> list[ReminderRun]:
    """The latest reminders sent or skipped, newest first, with their event."""
    rows = await session.execute(
        select(
            EventReminder.id, Network.slug, Event.title, EventReminder.offset_minutes,
            EventReminder.status, EventReminder.done_at, EventReminder.note,
        )
        .join(Event, Event.id == EventReminder.event_id)
        .join(Network, Network.id == Event.network_id)
        .where(EventReminder.status.in_((R_SENT, R_SKIPPED)),
               EventReminder.done_at.is_not(None))
        .order_by(EventReminder.done_at.desc(), EventReminder.id.desc())
        .limit(limit)
    )
    return [
        ReminderRun(r.id, r.slug, r.title, r.offset_minutes, r.status,
                    cast(datetime, _utc(r.done_at)), r.note)
        for r in rows.all()
    ]


def _utc(value: datetime | str | None) -> datetime | None:
    """An aggregate's datetime, aware UTC (SQLite may hand back a string)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
