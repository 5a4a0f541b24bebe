"""Asking after a training or workshop, and the one reminder: scheduled from the database.

Every `TICK_SECONDS` the worker looks at the trainings and workshops that ended within
`ASK_WINDOW` and asks those not asked yet: the members marked as present, or, when
nobody was marked, those who answered "going" (active members only: who left is not
asked). The asked rows are inserted in the transaction that queues the questions in the
outbox, and their unique (event, person) key is the claim: a second worker's insert
fails and it queues nothing, and a restart finds the rows. The reminder goes once, the
next day at `REMIND_AT` in the network's time zone, to those who have not answered;
each row is claimed by a guarded update in the transaction that queues it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.events.calendar import _recipients
from bot.services.events.texts import _payload, in_locales
from bot.services.feedback.rules import (
    ASK_WINDOW,
    JOB_ID,
    REMIND_LATE,
    TICK_SECONDS,
    reminder_due,
)
from bot.services.feedback.texts import question_text, rating_buttons
from storage.models import utcnow
from storage.models.events import Answer, Event
from storage.repositories import events as events_repo
from storage.repositories import feedback as repo
from storage.repositories.events import Person

if TYPE_CHECKING:
    from bot.context import AppContext
    from bot.delivery import DeliveryEngine

log = logging.getLogger(__name__)
REMIND_BATCH = 500


@dataclass
class FeedbackRun:
    asked: dict[int, int] = field(default_factory=dict)  # event id -> people asked
    reminded: dict[int, int] = field(default_factory=dict)  # event id -> people reminded
    lost: list[int] = field(default_factory=list)  # events another worker asked about
    jobs: list[int] = field(default_factory=list)


def to_ask(people: list[Person]) -> list[Person]:
    """Those marked as present; if nobody was marked, those who answered "going"."""
    present = [p for p in people if p.attended]
    return present or [p for p in people if p.answer == Answer.GOING]


async def ask_due(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    *,
    now: datetime,
) -> FeedbackRun:
    """Ask about every training or workshop that has ended (see the module doc)."""
    run = FeedbackRun()
    async with session_pool() as session:
        ended = [e.id for e in await repo.ended_events(session, now, now - ASK_WINDOW)]
    for event_id in ended:
        async with session_pool() as session:
            try:
                await _ask_one(session, delivery, i18n, event_id, now, run)
            except IntegrityError:
                await session.rollback()
                run.lost.append(event_id)  # another worker asked them at the same time
            except Exception:
                await session.rollback()
                log.exception("feedback for event %s could not be queued; retried", event_id)
    return run


async def _ask_one(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    event_id: int,
    now: datetime,
    run: FeedbackRun,
) -> None:
    event = await events_repo.get(session, event_id)
    if event is None:
        return
    people = to_ask(await events_repo.people(session, event.id, event.network_id))
    asked = await repo.asked_user_ids(session, event.id)
    new = [p for p in people if p.user_id not in asked]
    if not new:
        await session.rollback()
        return
    await repo.add_asked(session, event.id, [p.user_id for p in new], now)
    await session.flush()
    job = await delivery.enqueue(  # commits the asked rows with the job
        session,
        kind="feedback",
        payload=_question(i18n, event, reminder=False),
        recipients=_recipients(new, event.network, i18n),
        network_id=event.network_id,
    )
    run.asked[event.id] = len(new)
    run.jobs.append(job.id)


def _question(i18n: I18n, event: Event, *, reminder: bool) -> dict[str, object]:
    texts = in_locales(i18n, functools.partial(question_text, event, reminder))
    return _payload(texts, None, rating_buttons(i18n, event.id))


async def remind_due(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    *,
    now: datetime,
    run: FeedbackRun | None = None,
) -> FeedbackRun:
    """Queue the one reminder of those asked yesterday who have not answered."""
    run = run or FeedbackRun()
    async with session_pool() as session:
        pending = await repo.pending_reminders(
            session, now, now - ASK_WINDOW - timedelta(days=1), REMIND_BATCH
        )
    due: dict[int, list[repo.Pending]] = {}
    for row, event in pending:
        at = reminder_due(row.asked_at, ZoneInfo(event.network.timezone))
        if at <= now < at + REMIND_LATE:
            due.setdefault(event.id, []).append(row)
    for event_id, rows in due.items():
        async with session_pool() as session:
            try:
                await _remind_one(session, delivery, i18n, event_id, rows, now, run)
            except Exception:
                await session.rollback()
                log.exception("feedback reminders of event %s failed; retried", event_id)
    return run


async def _remind_one(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    event_id: int,
    rows: list[repo.Pending],
    now: datetime,
    run: FeedbackRun,
) -> None:
    event = await events_repo.get(session, event_id)
    if event is None:
        return
    members = {
        p.user_id: p for p in await events_repo.people(session, event.id, event.network_id)
    }
    claimed = [
        members[r.user_id]
        for r in rows
        if r.user_id in members and await repo.claim_reminder(session, r.id, now)
    ]
    if not claimed:
        await session.commit()
        return
    job = await delivery.enqueue(  # commits the claims with the job
        session,
        kind="feedback",
        payload=_question(i18n, event, reminder=True),
        recipients=_recipients(claimed, event.network, i18n),
        network_id=event.network_id,
    )
    run.reminded[event.id] = len(claimed)
    run.jobs.append(job.id)


async def tick(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    *,
    now: datetime,
) -> FeedbackRun:
    run = await ask_due(session_pool, delivery, i18n, now=now)
    return await remind_due(session_pool, delivery, i18n, now=now, run=run)


def setup_jobs(ctx: AppContext) -> None:
    """Register the feedback tick on ctx.scheduler (every TICK_SECONDS, and at start)."""
    lock = asyncio.Lock()

    async def job() -> None:
        if lock.locked():
            return
        async with lock:
            try:
                run = await tick(ctx.session_pool, ctx.delivery, ctx.i18n, now=utcnow())
            except Exception:
                log.exception("feedback run failed; trying again at the next tick")
                return
        if run.asked or run.reminded:
            log.info(
                "feedback: %d asked, %d reminded",
                sum(run.asked.values()),
                sum(run.reminded.values()),
            )

    ctx.scheduler.add_job(
        job,
        "interval",
        seconds=TICK_SECONDS,
        id=JOB_ID,
        replace_existing=True,
        next_run_time=utcnow(),
    )
