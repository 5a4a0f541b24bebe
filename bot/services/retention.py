"""Retention: how long each kind of data is kept, and the daily purge (README.md,
"Retention").

The RETAIN_* settings (bot/config.py) give days per kind; 0 keeps that kind forever.
What goes, once older than its setting:

* ``attachments``: a report's photo or document (its Telegram file id; no file bytes are
  ever stored). The report stays.
* ``report_texts``: a report's description (blanked, shown as "text removed") and its
  review note. The report's type, date, counts, sector and status stay, so the
  statistics, the digests and the exports keep counting it.
* ``feedback_texts``: the two texts of a training's feedback ("what I will apply", "what
  was missing"), by RETAIN_REPORT_TEXT_DAYS too; the 1-5 answer stays.
* ``deliveries``: the delivery rows of send jobs that finished (done or cancelled) before
  the cut-off; an unfinished job's rows are never purged. ``send_jobs``: those jobs too,
  except a broadcast's (the broadcast list and the digests show it).
* ``audit_entries``, ``update_ids``: the audit log, and the processed update ids ledger.

Once a day (03:30 UTC, and at start-up when that hour has passed today) the worker runs
`run_daily`: it claims the day's row in ``retention_runs`` first, so with several
processes on one database exactly one purges and writes the day's one audit entry (the
counts per kind, no personal data). The purge itself is idempotent: rows purged once
are no longer due, and a run cut off half-way is completed by the next day's. Every
purge works in batches with a commit between them, so SQLite's write lock is never held
for long. `prevnet purge [--dry-run]` (bot/cli_retention.py) runs the same purge by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from storage.models import utcnow
from storage.repositories import audit
from storage.repositories import retention as repo
from storage.repositories.retention import (
    ATTACHMENTS,
    AUDIT_ENTRIES,
    BATCH,
    DELIVERIES,
    FEEDBACK_TEXTS,
    REPORT_TEXTS,
    SEND_JOBS,
    UPDATE_IDS,
)

if TYPE_CHECKING:
    from bot.context import AppContext

log = logging.getLogger(__name__)

AUDIT_ACTION = "retention_purge"
JOB_ID = "retention.daily"
DAILY_AT = time(3, 30)  # UTC
CATCH_UP_DELAY = timedelta(minutes=5)
# The kinds in the order they are purged, and the setting that keeps each.
SETTING_OF: dict[str, str] = {
    ATTACHMENTS: "retain_attachment_days",
    REPORT_TEXTS: "retain_report_text_days",
    FEEDBACK_TEXTS: "retain_report_text_days",  # as long as reports' texts
    DELIVERIES: "retain_delivery_days",
    SEND_JOBS: "retain_delivery_days",
    AUDIT_ENTRIES: "retain_audit_days",
    UPDATE_IDS: "retain_update_ids_days",
}


@dataclass(frozen=True)
class Line:
    kind: str
    days: int  # 0: kept forever
    cutoff: datetime | None  # rows older than this go; None: kept forever
    count: int  # rows that would go (a dry run) or went


@dataclass(frozen=True)
class Outcome:
    now: datetime
    lines: tuple[Line, ...]

    def counts(self) -> dict[str, int]:
        return {line.kind: line.count for line in self.lines}

    @property
    def total(self) -> int:
        return sum(line.count for line in self.lines)


def days_of(settings: Settings) -> dict[str, int]:
    return {kind: int(getattr(settings, name)) for kind, name in SETTING_OF.items()}


def cutoffs(settings: Settings, now: datetime) -> dict[str, datetime | None]:
    """Per kind, the moment before which rows go (None: the kind is kept forever)."""
    return {
        kind: (now - timedelta(days=days) if days else None)
        for kind, days in days_of(settings).items()
    }


async def preview(session: AsyncSession, settings: Settings, now: datetime) -> Outcome:
    """What a purge at ``now`` would remove, per kind; reads only."""
    days = days_of(settings)
    lines = []
    for kind, cutoff in cutoffs(settings, now).items():
        n = await repo.count(session, kind, cutoff) if cutoff is not None else 0
        lines.append(Line(kind, days[kind], cutoff, n))
    return Outcome(now, tuple(lines))


async def _purge_rows(
    session: AsyncSession, settings: Settings, now: datetime, batch: int
) -> Outcome:
    days = days_of(settings)
    lines = []
    for kind, cutoff in cutoffs(settings, now).items():
        total = 0
        while cutoff is not None:
            n = await repo.purge_batch(session, kind, cutoff, batch)
            await session.commit()  # between batches: the write lock is let go
            if not n:
                break
            total += n
        lines.append(Line(kind, days[kind], cutoff, total))
    return Outcome(now, tuple(lines))


async def _record(session: AsyncSession, outcome: Outcome, trigger: str) -> None:
    """The run's audit entry: counts and days per kind, nothing about anyone."""
    await audit.record(
        session,
        AUDIT_ACTION,
        trigger=trigger,
        counts=outcome.counts(),
        days={line.kind: line.days for line in outcome.lines},
    )


async def purge(
    session_pool: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    *,
    trigger: str,
    batch: int = BATCH,
) -> Outcome:
    """Purge everything older than its setting now, and write one audit entry."""
    async with session_pool() as session:
        outcome = await _purge_rows(session, settings, now, batch)
        await _record(session, outcome, trigger)
        await session.commit()
    return outcome


async def run_daily(
    session_pool: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    worker_id: str,
    batch: int = BATCH,
) -> Outcome | None:
    """The day's purge, unless another run (or process) has claimed this UTC day: then
    None. The audit entry and the day's counts are written in one transaction."""
    day = now.astimezone(UTC).date()
    async with session_pool() as session:
        claimed = await repo.claim_day(session, day, worker_id, now)
        await session.commit()
        if not claimed:
            return None
        outcome = await _purge_rows(session, settings, now, batch)
        await _record(session, outcome, "schedule")
        await repo.finish_day(session, day, outcome.counts(), utcnow())
        await session.commit()
    return outcome


def first_run(now: datetime) -> datetime | None:
    """At start-up: a catch-up run soon when today's hour has passed (the day's claim
    makes it a no-op if the day's purge ran), else None (the cron trigger decides)."""
    today_at = datetime.combine(now.astimezone(UTC).date(), DAILY_AT, tzinfo=UTC)
    return now + CATCH_UP_DELAY if now >= today_at else None


def setup_jobs(ctx: AppContext) -> None:
    """Register the daily purge on ctx.scheduler."""
    from bot.delivery.workers import process_id

    async def daily() -> None:
        try:
            outcome = await run_daily(ctx.session_pool, ctx.settings, utcnow(), process_id())
        except Exception:
            log.exception("the daily purge failed; the next one purges what is left")
            return
        if outcome is None:
            log.info("today's purge was done already")
        else:
            log.info("purged old data: %s", outcome.counts())

    extra = {}
    catch_up = first_run(utcnow())
    if catch_up is not None:
        extra["next_run_time"] = catch_up
    ctx.scheduler.add_job(
        daily,
        CronTrigger(hour=DAILY_AT.hour, minute=DAILY_AT.minute, timezone=UTC),
        id=JOB_ID,
        replace_existing=True,
        **extra,
    )
