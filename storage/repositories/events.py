"""Events, RSVPs, attendance, due reminders and per-network event settings.

Portable SQL only (SQLite and PostgreSQL). Reminder rows are claimed with a conditional
UPDATE (``WHERE id = :id AND status = 'pending'``, rowcount checked); on PostgreSQL the
candidate rows are selected ``FOR UPDATE SKIP LOCKED`` so a second process passes over
rows another one is claiming instead of waiting for it. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Membership, MembershipStatus, User, UTCDateTime
from storage.models.events import (
    DEFAULT_REMINDER_OFFSETS,
    Event,
    EventReminder,
    EventRsvp,
    EventSettings,
    EventStatus,
    ReminderStatus,
)

PENDING = ReminderStatus.PENDING.value
CLAIMED = ReminderStatus.CLAIMED.value
SENT = ReminderStatus.SENT.value
SKIPPED = ReminderStatus.SKIPPED.value


@dataclass(frozen=True, slots=True)
class Person:
    """An active member of a network, with their answer to one event (if any)."""

    user_id: int
    tg_id: int
    language: str | None
    display_name: str | None
    answer: str | None = None
    attended: bool | None = None


@dataclass(frozen=True, slots=True)
class DueReminder:
    id: int
    event_id: int
    plan: int
    offset_minutes: int
    due_at: datetime
    jobs: dict[str, int] | None


# ------------------------------------------------------------------------------ events


async def create(session: AsyncSession, **fields: Any) -> Event:
    event = Event(**fields)
    session.add(event)
    await session.flush()
    return event


async def get(session: AsyncSession, event_id: int) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    )


async def upcoming(
    session: AsyncSession, network_ids: Sequence[int], now: datetime, limit: int = 10
) -> Sequence[Event]:
    """Scheduled events not yet over, soonest first."""
    if not network_ids:
        return []
    return (
        await session.scalars(
            select(Event)
            .where(
                Event.network_id.in_(network_ids),
                Event.status == EventStatus.SCHEDULED,
                Event.ends_at > now,
            )
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        )
    ).all()


async def recent(
    session: AsyncSession,
    network_ids: Sequence[int],
    now: datetime,
    since: datetime,
    limit: int = 5,
) -> Sequence[Event]:
    """Scheduled events that started between ``since`` and ``now``, latest first."""
    if not network_ids:
        return []
    return (
        await session.scalars(
            select(Event)
            .where(
                Event.network_id.in_(network_ids),
                Event.status == EventStatus.SCHEDULED,
                Event.starts_at <= now,
                Event.starts_at >= since,
            )
            .order_by(Event.starts_at.desc(), Event.id.desc())
            .limit(limit)
        )
    ).all()


async def future_of_network(
    session: AsyncSession, network_id: int, now: datetime
) -> Sequence[Event]:
    """Scheduled events of a network that have not started."""
    return (
        await session.scalars(
            select(Event)
            .where(
                Event.network_id == network_id,
                Event.status == EventStatus.SCHEDULED,
                Event.starts_at > now,
            )
            .order_by(Event.starts_at)
        )
    ).all()


async def change(
    session: AsyncSession, event_id: int, expected_sequence: int, **values: Any
) -> bool:
    """Update an event if nobody changed it since it was read (its sequence still matches)."""
    result = await session.execute(
        update(Event)
        .where(Event.id == event_id, Event.sequence == expected_sequence)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ people


def _people_query(event_id: int, network_id: int) -> Any:
    return (
        select(
            User.id,
            User.tg_id,
            User.language,
            User.display_name,
            EventRsvp.answer,
            EventRsvp.attended,
        )
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(
            EventRsvp, and_(EventRsvp.user_id == User.id, EventRsvp.event_id == event_id)
        )
        .where(
            Membership.network_id == network_id,
            Membership.status == MembershipStatus.ACTIVE,
        )
        .order_by(User.id)  # then by name, in Python: names are encrypted (storage/crypto.py)
    )


async def people(
    session: AsyncSession,
    event_id: int,
    network_id: int,
    *,
    answers: Iterable[str | None] | None = None,
) -> list[Person]:
    """Active members of the network with their answer, in one query.

    ``answers`` keeps only those answers (None in it stands for "no answer yet").
    """
    query = _people_query(event_id, network_id)
    if answers is not None:
        wanted = list(answers)
        values = [a for a in wanted if a is not None]
        conditions = [EventRsvp.answer.in_(values)] if values else []
        if None in wanted:
            conditions.append(EventRsvp.answer.is_(None))
        query = query.where(or_(*conditions))
    rows = (await session.execute(query)).all()
    return sorted((Person(*row) for row in rows), key=lambda p: (p.display_name or "", p.user_id))


async def answer_of(session: AsyncSession, event_id: int, user_id: int) -> str | None:
    return await session.scalar(
        select(EventRsvp.answer).where(
            EventRsvp.event_id == event_id, EventRsvp.user_id == user_id
        )
    )


async def answers_of_user(
    session: AsyncSession, user_id: int, event_ids: Sequence[int]
) -> dict[int, str | None]:
    if not event_ids:
        return {}
    rows = await session.execute(
        select(EventRsvp.event_id, EventRsvp.answer).where(
            EventRsvp.user_id == user_id, EventRsvp.event_id.in_(event_ids)
        )
    )
    return {event_id: answer for event_id, answer in rows.all()}


async def rsvps_of_user(session: AsyncSession, user_id: int) -> Sequence[tuple[Event, EventRsvp]]:
    """Every answer one person gave, with its event (for their own data export)."""
    rows = await session.execute(
        select(Event, EventRsvp)
        .join(EventRsvp, EventRsvp.event_id == Event.id)
        .where(EventRsvp.user_id == user_id)
        .order_by(Event.starts_at)
    )
    return [(event, rsvp) for event, rsvp in rows.all()]


async def answer_counts(session: AsyncSession, event_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(EventRsvp.answer, func.count())
        .where(EventRsvp.event_id == event_id, EventRsvp.answer.is_not(None))
        .group_by(EventRsvp.answer)
    )
    return {str(answer): int(n) for answer, n in rows.all()}


async def _upsert_rsvp(
    session: AsyncSession, event_id: int, user_id: int, values: dict[str, Any]
) -> None:
    """Portable upsert on (event_id, user_id): UPDATE, else INSERT, else UPDATE again."""
    where = (EventRsvp.event_id == event_id, EventRsvp.user_id == user_id)
    stmt = update(EventRsvp).where(*where).values(**values)
    stmt = stmt.execution_options(synchronize_session=False)
    if (await session.execute(stmt)).rowcount:  # type: ignore[attr-defined]
        return
    try:
        async with session.begin_nested():
            await session.execute(
                insert(EventRsvp).values(event_id=event_id, user_id=user_id, **values)
            )
    except IntegrityError:  # someone inserted it meanwhile (a double tap)
        await session.execute(stmt)


async def set_answer(
    session: AsyncSession, event_id: int, user_id: int, answer: str, now: datetime
) -> None:
    await _upsert_rsvp(session, event_id, user_id, {"answer": answer, "answered_at": now})


async def set_attended(
    session: AsyncSession, event_id: int, user_id: int, attended: bool
) -> None:
    await _upsert_rsvp(session, event_id, user_id, {"attended": attended})


async def attended_count(session: AsyncSession, event_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(EventRsvp)
            .where(EventRsvp.event_id == event_id, EventRsvp.attended.is_(True))
        )
        or 0
    )


# ---------------------------------------------------------------------------- settings


async def reminder_offsets(session: AsyncSession, network_id: int) -> list[int]:
    """Minutes before the start, largest first; the defaults when nothing is set."""
    stored = await session.scalar(
        select(EventSettings.reminder_offsets).where(EventSettings.network_id == network_id)
    )
    if stored is None:
        return list(DEFAULT_REMINDER_OFFSETS)
    return sorted({int(m) for m in stored}, reverse=True)


async def set_reminder_offsets(
    session: AsyncSession, network_id: int, offsets: Sequence[int], now: datetime
) -> None:
    values = {"reminder_offsets": sorted(set(offsets), reverse=True), "updated_at": now}
    stmt = update(EventSettings).where(EventSettings.network_id == network_id).values(**values)
    if (await session.execute(stmt)).rowcount:  # type: ignore[attr-defined]
        return
    try:
        async with session.begin_nested():
            await session.execute(insert(EventSettings).values(network_id=network_id, **values))
    except IntegrityError:
        await session.execute(stmt)


# --------------------------------------------------------------------------- reminders


async def reminder_rows(session: AsyncSession, event_id: int) -> Sequence[EventReminder]:
    return (
        await session.scalars(
            select(EventReminder)
            .where(EventReminder.event_id == event_id)
            .order_by(EventReminder.plan, EventReminder.due_at)
            .execution_options(populate_existing=True)
        )
    ).all()


async def planned_offsets(session: AsyncSession, event_id: int, plan: int) -> set[int]:
    """Offsets that already have a row in this plan (whatever their status)."""
    return set(
        await session.scalars(
            select(EventReminder.offset_minutes).where(
                EventReminder.event_id == event_id, EventReminder.plan == plan
            )
        )
    )


async def add_reminders(
    session: AsyncSession, event_id: int, plan: int, due: Iterable[tuple[int, datetime]]
) -> int:
    rows = [
        {
            "event_id": event_id,
            "plan": plan,
            "offset_minutes": offset,
            "due_at": due_at,
            "status": PENDING,
        }
        for offset, due_at in due
    ]
    if rows:
        await session.execute(insert(EventReminder), rows)
    return len(rows)


async def delete_pending(
    session: AsyncSession,
    event_id: int,
    *,
    keep_plan: int | None = None,
    keep_offsets: Iterable[int] = (),
) -> int:
    """Delete an event's pending rows, except those of ``keep_plan`` whose offset is in
    ``keep_offsets``. Rows being sent right now (claimed) are left alone: their sender
    sees the change and skips them; sent and skipped rows stay as the record."""
    conditions = [EventReminder.event_id == event_id, EventReminder.status == PENDING]
    keep = list(keep_offsets)
    if keep_plan is not None and keep:
        conditions.append(
            ~and_(EventReminder.plan == keep_plan, EventReminder.offset_minutes.in_(keep))
        )
    result = await session.execute(
        delete(EventReminder).where(*conditions).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _claimable(now: datetime, stale_before: datetime) -> Any:
    return or_(
        and_(EventReminder.status == PENDING, EventReminder.due_at <= now),
        and_(EventReminder.status == CLAIMED, EventReminder.claimed_at < stale_before),
    )


async def due_reminder_ids(
    session: AsyncSession, now: datetime, stale_before: datetime, limit: int = 200
) -> list[int]:
    """Ids of rows to claim: due and pending, or claimed by a sender whose lease ran out."""
    return list(
        await session.scalars(
            select(EventReminder.id)
            .where(_claimable(now, stale_before))
            .order_by(EventReminder.due_at, EventReminder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


async def claim(
    session: AsyncSession, reminder_id: int, worker_id: str, now: datetime, stale_before: datetime
) -> bool:
    """Take one row atomically; False when another sender has it (rowcount 0)."""
    result = await session.execute(
        update(EventReminder)
        .where(EventReminder.id == reminder_id, _claimable(now, stale_before))
        .values(status=CLAIMED, claimed_by=worker_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claimed_by(session: AsyncSession, worker_id: str) -> list[DueReminder]:
    rows = await session.execute(
        select(
            EventReminder.id,
            EventReminder.event_id,
            EventReminder.plan,
            EventReminder.offset_minutes,
            EventReminder.due_at,
            EventReminder.jobs,
        )
        .where(EventReminder.status == CLAIMED, EventReminder.claimed_by == worker_id)
        .order_by(EventReminder.due_at, EventReminder.id)
    )
    return [DueReminder(*row) for row in rows.all()]


async def advance(
    session: AsyncSession,
    reminder_id: int,
    worker_id: str,
    now: datetime,
    *,
    jobs: dict[str, int] | None = None,
    status: str | None = None,
    note: str | None = None,
) -> bool:
    """Record progress on a row this worker holds; False if it no longer holds it.

    Called in the same transaction as the work it records (the enqueue of a send job), so
    the work and the record commit together or not at all.
    """
    values: dict[str, Any] = {}
    if jobs is not None:
        values["jobs"] = jobs
    if status is not None:
        values["status"] = status
        values["done_at"] = now
    if note is not None:
        values["note"] = note
    result = await session.execute(
        update(EventReminder)
        .where(
            EventReminder.id == reminder_id,
            EventReminder.status == CLAIMED,
            EventReminder.claimed_by == worker_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_jobs(
    session: AsyncSession, reminder_id: int, worker_id: str, jobs: dict[str, int]
) -> None:
    await session.execute(
        update(EventReminder)
        .where(EventReminder.id == reminder_id, EventReminder.claimed_by == worker_id)
        .values(jobs=jobs)
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, worker_id: str) -> int:
    """Rows this worker had claimed (it restarted): back to pending, progress kept."""
    result = await session.execute(
        update(EventReminder)
        .where(EventReminder.status == CLAIMED, EventReminder.claimed_by == worker_id)
        .values(status=PENDING, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def next_due_at(session: AsyncSession) -> datetime | None:
    value = await session.scalar(
        select(func.min(EventReminder.due_at)).where(EventReminder.status == PENDING)
    )
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return UTCDateTime().process_result_value(value, None)
