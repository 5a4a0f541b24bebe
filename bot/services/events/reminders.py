"""Event reminders: rows per offset, claimed atomically when due, sent via the outbox."""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.events.calendar import _recipients
from bot.services.events.rules import (
    CLAIM_BATCH,
    JOB_ID,
    LEASE,
    NEXT_JOB_ID,
    TICK_SECONDS,
    reminder_due,
)
from bot.services.events.texts import Card, _payload, _reminder_in, in_locales, rsvp_buttons
from storage.models import utcnow
from storage.models.events import Answer, Event, EventStatus, ReminderStatus
from storage.repositories import events as repo
from storage.repositories.events import Person

if TYPE_CHECKING:
    from bot.context import AppContext
    from bot.delivery import DeliveryEngine

log = logging.getLogger(__name__)


async def plan_reminders(
    session: AsyncSession, event: Event, now: datetime, offsets: Sequence[int] | None = None
) -> int:
    """(Re)plan an event's reminder rows for its current sequence; returns rows added.

    Pending rows of earlier plans, or of offsets no longer wanted, are deleted; rows
    already sent or skipped in this plan stay (so nothing is sent twice); rows whose time
    has passed are not made. Claimed rows are left to their sender, which sees the change.
    """
    if offsets is None:
        offsets = await repo.reminder_offsets(session, event.network_id)
    await repo.delete_pending(
        session, event.id, keep_plan=event.sequence, keep_offsets=list(offsets)
    )
    if event.status != EventStatus.SCHEDULED:
        return 0
    have = await repo.planned_offsets(session, event.id, event.sequence)
    tz = ZoneInfo(event.network.timezone)
    due = []
    for offset in offsets:
        if offset in have:
            continue
        at = reminder_due(event.starts_at, offset, tz)
        if at > now:
            due.append((offset, at))
    return await repo.add_reminders(session, event.id, event.sequence, due)


@dataclass
class ReminderRun:
    claimed: int = 0
    sent: list[int] = field(default_factory=list)  # reminder ids
    skipped: dict[int, str] = field(default_factory=dict)  # reminder id -> why
    jobs: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # taken over by another worker


REMINDER_GROUPS = (Answer.GOING.value, Answer.MAYBE.value, "open")


async def claim_due_reminders(
    session: AsyncSession, *, now: datetime, worker_id: str, limit: int = CLAIM_BATCH
) -> list[repo.DueReminder]:
    """Claim due rows (and stale claims) for this worker; committed before returning."""
    stale_before = now - LEASE
    ids = await repo.due_reminder_ids(session, now, stale_before, limit)
    for reminder_id in ids:
        await repo.claim(session, reminder_id, worker_id, now, stale_before)
    await session.commit()
    return await repo.claimed_by(session, worker_id)


async def send_due_reminders(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    *,
    now: datetime,
    worker_id: str,
    limit: int = CLAIM_BATCH,
) -> ReminderRun:
    """Claim the reminders due at ``now`` and queue their send jobs. See the module doc."""
    run = ReminderRun()
    async with session_pool() as session:
        claimed = await claim_due_reminders(session, now=now, worker_id=worker_id, limit=limit)
    run.claimed = len(claimed)
    # Several due for one event (the bot was down): only the latest is worth sending.
    latest: dict[int, repo.DueReminder] = {}
    for row in claimed:
        best = latest.get(row.event_id)
        if best is None or (row.due_at, row.id) > (best.due_at, best.id):
            latest[row.event_id] = row
    for row in claimed:
        async with session_pool() as session:
            try:
                await _send_one(
                    session, delivery, i18n, row, latest[row.event_id], now, worker_id, run
                )
            except Exception:
                await session.rollback()
                log.exception("reminder %s could not be queued; it will be retried", row.id)
    return run


async def _send_one(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    row: repo.DueReminder,
    latest: repo.DueReminder,
    now: datetime,
    worker_id: str,
    run: ReminderRun,
) -> None:
    event = await repo.get(session, row.event_id)
    reason = None
    if event is None or event.status != EventStatus.SCHEDULED:
        reason = "cancelled"
    elif row.plan != event.sequence:
        reason = "replanned"
    elif event.starts_at <= now:
        reason = "started"
    elif latest.id != row.id and not row.jobs:
        reason = "superseded"
    if reason is not None or event is None:
        reason = reason or "cancelled"
        if await repo.advance(
            session, row.id, worker_id, now, status=ReminderStatus.SKIPPED, note=reason
        ):
            run.skipped[row.id] = reason
        else:
            run.lost.append(row.id)
        await session.commit()
        return
    network = event.network
    card = Card.of(event)
    groups: dict[str, list[Person]] = {g: [] for g in REMINDER_GROUPS}
    for person in await repo.people(session, event.id, event.network_id):
        if person.answer == Answer.NO:
            continue
        groups[person.answer if person.answer in groups else "open"].append(person)
    done: dict[str, int] = dict(row.jobs or {})
    todo = [g for g in REMINDER_GROUPS if g not in done and groups[g]]
    if not todo:
        ok = await repo.advance(
            session,
            row.id,
            worker_id,
            now,
            status=ReminderStatus.SENT,
            note=None if done else "nobody",
        )
        await session.commit()
        if ok:
            run.sent.append(row.id)
        else:
            run.lost.append(row.id)
        return
    for group in todo:
        done[group] = 0  # the job id is known after the enqueue; recorded just below
        last = group == todo[-1]
        if not await repo.advance(
            session,
            row.id,
            worker_id,
            now,
            jobs=done,
            status=ReminderStatus.SENT if last else None,
        ):
            await session.rollback()
            run.lost.append(row.id)
            return
        texts = in_locales(i18n, functools.partial(_reminder_in, card, group, now))
        buttons = None if group == Answer.GOING else rsvp_buttons(i18n, event.id)
        job = await delivery.enqueue(  # commits the guarded update above with the job
            session,
            kind="reminder",
            payload=_payload(texts, None, buttons),
            recipients=_recipients(groups[group], network, i18n),
            network_id=event.network_id,
        )
        done[group] = job.id
        run.jobs.append(job.id)
    # Informational: the real job ids (the row is already sent; best effort).
    await repo.record_jobs(session, row.id, worker_id, done)
    await session.commit()
    run.sent.append(row.id)


async def release_own_claims(session_pool: async_sessionmaker[AsyncSession], worker_id: str) -> int:
    """At start: rows this worker id had claimed before a restart go back to pending."""
    async with session_pool() as session:
        count = await repo.release(session, worker_id)
        await session.commit()
    if count:
        log.warning("%d reminders claimed before a restart will be sent now", count)
    return count


async def next_reminder_at(session_pool: async_sessionmaker[AsyncSession]) -> datetime | None:
    async with session_pool() as session:
        return await repo.next_due_at(session)


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler.

    An interval job every `TICK_SECONDS` claims and queues due reminders (so none is
    more than that late, and rows due while the bot was down go out at once); after each
    run a one-shot date job is set for the next due row when it falls before the next
    tick, so reminders leave on the second.
    """
    lock = asyncio.Lock()
    worker_id = getattr(ctx.delivery, "worker_id", None) or f"events-{uuid.uuid4().hex[:12]}"
    state = {"started": False}

    async def tick() -> None:
        if lock.locked():
            return
        async with lock:
            try:
                if not state["started"]:
                    await release_own_claims(ctx.session_pool, worker_id)
                    state["started"] = True
                now = utcnow()
                run = await send_due_reminders(
                    ctx.session_pool, ctx.delivery, ctx.i18n, now=now, worker_id=worker_id
                )
                if run.sent or run.skipped:
                    log.info(
                        "reminders: %d queued, %d skipped (%s)",
                        len(run.sent),
                        len(run.skipped),
                        ", ".join(sorted(set(run.skipped.values()))) or "-",
                    )
                upcoming = await next_reminder_at(ctx.session_pool)
            except Exception:
                log.exception("reminder run failed; trying again at the next tick")
                return
        if upcoming is not None and upcoming - utcnow() < timedelta(seconds=TICK_SECONDS):
            ctx.scheduler.add_job(
                tick,
                "date",
                run_date=max(upcoming, utcnow()),
                id=NEXT_JOB_ID,
                replace_existing=True,
                misfire_grace_time=None,
            )

    ctx.scheduler.add_job(
        tick,
        "interval",
        seconds=TICK_SECONDS,
        id=JOB_ID,
        replace_existing=True,
        next_run_time=utcnow(),
    )
