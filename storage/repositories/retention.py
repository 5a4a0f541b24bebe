"""Retention's SQL: what is older than a cut-off, counted, and purged in batches.

Each kind is a table, its key, the rows that are due (older than the cut-off and not
already purged), and what purging does: a DELETE, or an UPDATE that blanks columns. A
batch selects at most ``limit`` keys and purges those rows only, so the caller can
commit between batches and a big table never holds SQLite's write lock for long.
Purging is idempotent: a row purged once is no longer due. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import (
    AuditEntry,
    Broadcast,
    Delivery,
    EventFeedback,
    JobStatus,
    ProcessedUpdate,
    Report,
    RetentionRun,
    SendJob,
)

ATTACHMENTS = "attachments"
REPORT_TEXTS = "report_texts"
FEEDBACK_TEXTS = "feedback_texts"
DELIVERIES = "deliveries"
SEND_JOBS = "send_jobs"
AUDIT_ENTRIES = "audit_entries"
UPDATE_IDS = "update_ids"
BATCH = 500
FINISHED = (JobStatus.DONE.value, JobStatus.CANCELLED.value)
TEXT_REMOVED = ""  # a report's description once purged (a filed one is never empty)


def _finished_before(cutoff: datetime) -> ColumnElement[bool]:
    return and_(SendJob.status.in_(FINISHED), SendJob.finished_at < cutoff)


@dataclass(frozen=True)
class Kind:
    name: str
    key: InstrumentedAttribute[Any]
    due: Callable[[datetime], ColumnElement[bool]]
    blank: dict[str, Any] | None = None  # None: the rows are deleted


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        # A report's file (a Telegram file id; no bytes are stored); the row stays.
        Kind(
            ATTACHMENTS,
            Report.id,
            lambda c: and_(Report.created_at < c, Report.attachment_file_id.is_not(None)),
            {"attachment_file_id": None, "attachment_kind": None},
        ),
        # A report's text and review note; its type, date, counts and sector stay.
        Kind(
            REPORT_TEXTS,
            Report.id,
            lambda c: and_(
                Report.created_at < c,
                or_(Report.description != TEXT_REMOVED, Report.review_note.is_not(None)),
            ),
            {"description": TEXT_REMOVED, "review_note": None},
        ),
        # Training feedback's two texts, kept as long as reports' texts; the 1-5 stays.
        Kind(
            FEEDBACK_TEXTS,
            EventFeedback.id,
            lambda c: and_(
                EventFeedback.asked_at < c,
                or_(EventFeedback.apply_text.is_not(None), EventFeedback.missing_text.is_not(None)),
            ),
            {"apply_text": None, "missing_text": None},
        ),
        # Delivery rows of send jobs finished before the cut-off (never of unfinished ones).
        Kind(
            DELIVERIES,
            Delivery.id,
            lambda c: Delivery.job_id.in_(select(SendJob.id).where(_finished_before(c))),
        ),
        # Those jobs (purged after their rows), except a broadcast's: its list and the
        # digests show it.
        Kind(
            SEND_JOBS,
            SendJob.id,
            lambda c: and_(
                _finished_before(c), ~exists().where(Broadcast.job_id == SendJob.id)
            ),
        ),
        Kind(AUDIT_ENTRIES, AuditEntry.id, lambda c: AuditEntry.at < c),
        Kind(UPDATE_IDS, ProcessedUpdate.update_id, lambda c: ProcessedUpdate.received_at < c),
    )
}


async def count(session: AsyncSession, kind: str, cutoff: datetime) -> int:
    """How many rows of ``kind`` a purge at ``cutoff`` would change."""
    k = KINDS[kind]
    query = select(func.count()).select_from(k.key.class_).where(k.due(cutoff))
    return int(await session.scalar(query) or 0)


async def purge_batch(
    session: AsyncSession, kind: str, cutoff: datetime, limit: int = BATCH
) -> int:
    """Purge at most ``limit`` due rows of ``kind``; how many were purged (0: none left)."""
    k = KINDS[kind]
    keys = list((await session.scalars(select(k.key).where(k.due(cutoff)).limit(limit))).all())
    if not keys:
        return 0
    table = k.key.class_
    where = and_(k.key.in_(keys), k.due(cutoff))  # still due (another process may be here)
    if k.blank is None:
        statement: Any = delete(table).where(where)
    else:
        statement = update(table).where(where).values(**k.blank)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def claim_day(session: AsyncSession, day: date, worker_id: str, now: datetime) -> bool:
    """Insert the day's run row; False when the day has one. The caller commits at once:
    the committed row is the lock (PostgreSQL makes a second inserter wait, then fail)."""
    try:
        async with session.begin_nested():
            await session.execute(
                insert(RetentionRun).values(
                    day=day, claimed_by=worker_id, started_at=now, counts={}
                )
            )
    except IntegrityError:
        return False
    return True


async def finish_day(
    session: AsyncSession, day: date, counts: dict[str, int], now: datetime
) -> None:
    await session.execute(
        update(RetentionRun)
        .where(RetentionRun.day == day)
        .values(finished_at=now, counts=dict(counts))
    )


async def get_day(session: AsyncSession, day: date) -> RetentionRun | None:
    return await session.get(RetentionRun, day, populate_existing=True)
