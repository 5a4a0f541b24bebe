"""Training feedback's SQL: who was asked, the guarded reminder and answer updates, the
rows behind the coordinators' figures and exports. Portable SQL; nothing here commits.

Asking is claimed by the unique (event, user) key: `add_asked` inserts the rows in the
transaction that queues the questions, so a second worker's insert of the same rows fails
(PostgreSQL makes it wait for the first one's commit) and that worker queues nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, EventFeedback, EventStatus, Network, User

FEEDBACK_KINDS = ("training", "workshop")  # meetings are not asked


@dataclass(frozen=True, slots=True)
class Pending:
    """An unanswered, unreminded question, with what its reminder needs."""

    id: int
    event_id: int
    user_id: int
    tg_id: int
    language: str | None
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class Answer:
    """One row of the figures and exports (never a Telegram id)."""

    event_id: int
    network_id: int
    network_name: str
    timezone: str
    kind: str
    title: str
    starts_at: datetime
    asked_at: datetime
    answered_at: datetime | None
    usefulness: int | None
    apply_text: str | None
    missing_text: str | None


async def ended_events(
    session: AsyncSession, now: datetime, since: datetime
) -> Sequence[Event]:
    """Scheduled trainings and workshops that ended between ``since`` and ``now``."""
    return (
        await session.scalars(
            select(Event)
            .where(
                Event.kind.in_(FEEDBACK_KINDS),
                Event.status == EventStatus.SCHEDULED,
                Event.ends_at <= now,
                Event.ends_at > since,
            )
            .order_by(Event.ends_at, Event.id)
        )
    ).all()


async def asked_user_ids(session: AsyncSession, event_id: int) -> set[int]:
    rows = await session.scalars(
        select(EventFeedback.user_id).where(
            EventFeedback.event_id == event_id, EventFeedback.user_id.is_not(None)
        )
    )
    return {int(u) for u in rows.all() if u is not None}


async def add_asked(
    session: AsyncSession, event_id: int, user_ids: Sequence[int], now: datetime
) -> None:
    """Insert the asked rows; IntegrityError if another worker asked one of them."""
    if user_ids:
        await session.execute(
            insert(EventFeedback),
            [{"event_id": event_id, "user_id": u, "asked_at": now} for u in user_ids],
        )


async def pending_reminders(
    session: AsyncSession, asked_before: datetime, asked_since: datetime, limit: int
) -> list[tuple[Pending, Event]]:
    """Questions asked in the window, unanswered and not reminded, with their events."""
    rows = await session.execute(
        select(
            EventFeedback.id,
            EventFeedback.event_id,
            User.id,
            User.tg_id,
            User.language,
            EventFeedback.asked_at,
            Event,
        )
        .join(User, User.id == EventFeedback.user_id)
        .join(Event, Event.id == EventFeedback.event_id)
        .where(
            EventFeedback.answered_at.is_(None),
            EventFeedback.reminded_at.is_(None),
            EventFeedback.asked_at < asked_before,
            EventFeedback.asked_at >= asked_since,
            Event.status == EventStatus.SCHEDULED,
        )
        .order_by(EventFeedback.id)
        .limit(limit)
    )
    return [(Pending(*row[:6]), row[6]) for row in rows.all()]


async def claim_reminder(session: AsyncSession, row_id: int, now: datetime) -> bool:
    """Mark one reminder as queued, if nobody did and the question is still open."""
    result = await session.execute(
        update(EventFeedback)
        .where(
            EventFeedback.id == row_id,
            EventFeedback.reminded_at.is_(None),
            EventFeedback.answered_at.is_(None),
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_own(session: AsyncSession, event_id: int, user_id: int) -> EventFeedback | None:
    return await session.scalar(
        select(EventFeedback)
        .where(EventFeedback.event_id == event_id, EventFeedback.user_id == user_id)
        .execution_options(populate_existing=True)
    )


async def rate(
    session: AsyncSession, event_id: int, user_id: int, usefulness: int, now: datetime
) -> bool:
    """Record the 1-5 answer once; False if not asked or answered already."""
    result = await session.execute(
        update(EventFeedback)
        .where(
            EventFeedback.event_id == event_id,
            EventFeedback.user_id == user_id,
            EventFeedback.answered_at.is_(None),
        )
        .values(usefulness=usefulness, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_text(
    session: AsyncSession, row_id: int, column: str, value: str | None
) -> None:
    if column not in ("apply_text", "missing_text"):
        raise ValueError(column)
    await session.execute(
        update(EventFeedback)
        .where(EventFeedback.id == row_id)
        .values({column: value})
        .execution_options(synchronize_session=False)
    )


def _answers_query() -> Any:
    return select(
        EventFeedback.event_id,
        Event.network_id,
        Network.name,
        Network.timezone,
        Event.kind,
        Event.title,
        Event.starts_at,
        EventFeedback.asked_at,
        EventFeedback.answered_at,
        EventFeedback.usefulness,
        EventFeedback.apply_text,
        EventFeedback.missing_text,
    ).join(Event, Event.id == EventFeedback.event_id).join(Network, Network.id == Event.network_id)


async def answers_of_event(session: AsyncSession, event_id: int) -> list[Answer]:
    rows = await session.execute(
        _answers_query().where(EventFeedback.event_id == event_id).order_by(EventFeedback.id)
    )
    return [Answer(*row) for row in rows.all()]


async def answers_in(
    session: AsyncSession, network_ids: Sequence[int] | None, since: datetime | None = None
) -> list[Answer]:
    """Every asked row of these networks (None: all), events from ``since``."""
    query = _answers_query()
    if network_ids is not None:
        if not network_ids:
            return []
        query = query.where(Event.network_id.in_(network_ids))
    if since is not None:
        query = query.where(Event.starts_at >= since)
    rows = await session.execute(query.order_by(Event.starts_at, Event.id, EventFeedback.id))
    return [Answer(*row) for row in rows.all()]


async def of_user(session: AsyncSession, user_id: int) -> list[tuple[Event, EventFeedback]]:
    """One person's feedback rows with their events (for /mydata)."""
    rows = await session.execute(
        select(Event, EventFeedback)
        .join(EventFeedback, EventFeedback.event_id == Event.id)
        .where(EventFeedback.user_id == user_id)
        .order_by(Event.starts_at)
    )
    return [(event, row) for event, row in rows.all()]
