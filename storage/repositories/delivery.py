"""Send jobs and their deliveries: the SQL behind bot.delivery.DeliveryEngine.

Everything here is set-based (bulk inserts, one UPDATE ... RETURNING per claim, executemany
of outcomes, one GROUP BY for counts) and portable: it runs on SQLite and PostgreSQL. On
PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several processes never
claim the same row; SQLite ignores the locking clause and serialises writers anyway.

Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Delivery,
    DeliveryStatus,
    JobStatus,
    SendJob,
    User,
    UTCDateTime,
    utcnow,
)

BATCH = 1000

_D = cast(Table, Delivery.__table__)
_J = cast(Table, SendJob.__table__)

PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
SENT = DeliveryStatus.SENT.value
BLOCKED = DeliveryStatus.BLOCKED.value
FAILED = DeliveryStatus.FAILED.value
SCHEDULED = JobStatus.SCHEDULED.value
RUNNING = JobStatus.RUNNING.value
DONE = JobStatus.DONE.value
CANCELLED = JobStatus.CANCELLED.value

UNKNOWN_OUTCOME = "unknown: the sender stopped while this message was in flight"


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Where a job stands. ``pending`` includes rows being sent right now."""

    total: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    pending: int = 0
    acked: int = 0
    skipped: int = 0  # left out by enqueue: the user was already unreachable

    @property
    def finished(self) -> bool:
        return self.pending == 0


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    job_id: int
    user_id: int
    chat_id: int
    locale: str
    attempts: int
    claimed_at: datetime
    params: dict[str, Any] | None = None  # this recipient's overrides of the payload params


# ----------------------------------------------------------------------------- jobs


async def create_job(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    due_at: datetime,
    total: int,
    skipped: int = 0,
    network_id: int | None = None,
    author_id: int | None = None,
    progress_chat_id: int | None = None,
    progress_message_id: int | None = None,
) -> SendJob:
    job = SendJob(
        kind=kind,
        payload=payload,
        status=JobStatus.SCHEDULED,
        due_at=due_at,
        total=total,
        skipped=skipped,
        network_id=network_id,
        author_id=author_id,
        progress_chat_id=progress_chat_id,
        progress_message_id=progress_message_id,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    return job


async def unreachable_user_ids(session: AsyncSession, user_ids: Sequence[int]) -> set[int]:
    """Those of ``user_ids`` marked unreachable (they blocked the bot or were deleted)."""
    found: set[int] = set()
    for start in range(0, len(user_ids), BATCH):
        chunk = user_ids[start : start + BATCH]
        found.update(
            await session.scalars(
                select(User.id).where(User.id.in_(chunk), User.unreachable_since.is_not(None))
            )
        )
    return found


async def insert_deliveries(
    session: AsyncSession,
    job_id: int,
    recipients: Iterable[tuple[int, int, str] | tuple[int, int, str, dict[str, Any] | None]],
    next_attempt_at: datetime,
) -> int:
    """Bulk insert (user_id, chat_id, locale[, params]) rows, ``BATCH`` per statement."""
    count = 0
    batch: list[dict[str, Any]] = []
    stmt = insert(_D)
    for user_id, chat_id, locale, *params in recipients:
        batch.append(
            {
                "job_id": job_id,
                "user_id": user_id,
                "chat_id": chat_id,
                "locale": locale,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": next_attempt_at,
                "params": params[0] if params else None,
            }
        )
        if len(batch) >= BATCH:
            await session.execute(stmt, batch)
            count += len(batch)
            batch = []
    if batch:
        await session.execute(stmt, batch)
        count += len(batch)
    return count


async def get_job(session: AsyncSession, job_id: int) -> SendJob | None:
    return await session.get(SendJob, job_id)


async def get_jobs(session: AsyncSession, job_ids: Sequence[int]) -> Sequence[SendJob]:
    if not job_ids:
        return []
    return (await session.scalars(select(SendJob).where(SendJob.id.in_(job_ids)))).all()


async def cancel_job(session: AsyncSession, job_id: int, now: datetime) -> bool:
    """Cancel a job that has not started; its deliveries are deleted. False if too late."""
    result = await session.execute(
        update(_J)
        .where(_J.c.id == job_id, _J.c.status == SCHEDULED)
        .values(status=CANCELLED, finished_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(delete(_D).where(_D.c.job_id == job_id))
    return True


async def has_due_scheduled(session: AsyncSession, now: datetime) -> bool:
    found = await session.scalar(
        select(_J.c.id).where(_J.c.status == SCHEDULED, _J.c.due_at <= now).limit(1)
    )
    return found is not None


async def promote_due_jobs(session: AsyncSession, now: datetime) -> list[int]:
    """scheduled -> running for jobs whose time has come."""
    result = await session.execute(
        update(_J)
        .where(_J.c.status == SCHEDULED, _J.c.due_at <= now)
        .values(status=RUNNING)
        .returning(_J.c.id)
    )
    return list(result.scalars())


async def running_job_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(select(_J.c.id).where(_J.c.status == RUNNING).order_by(_J.c.id))
    )


async def finish_jobs(session: AsyncSession, now: datetime) -> list[int]:
    """running -> done for jobs with nothing left to send; returns the ids this call closed."""
    busy = exists().where(_D.c.job_id == _J.c.id, _D.c.status.in_((PENDING, SENDING)))
    result = await session.execute(
        update(_J)
        .where(_J.c.status == RUNNING, ~busy)
        .values(status=DONE, finished_at=now)
        .returning(_J.c.id)
    )
    return list(result.scalars())


async def has_due_work(session: AsyncSession, now: datetime) -> bool:
    """A job is running, or scheduled and due."""
    found = await session.scalar(
        select(_J.c.id)
        .where(or_(_J.c.status == RUNNING, and_(_J.c.status == SCHEDULED, _J.c.due_at <= now)))
        .limit(1)
    )
    return found is not None


async def next_due_at(session: AsyncSession) -> datetime | None:
    """The earliest time a pending delivery or a scheduled job becomes due."""
    row = (
        await session.execute(
            select(
                select(func.min(_D.c.next_attempt_at))
                .where(_D.c.status == PENDING)
                .scalar_subquery(),
                select(func.min(_J.c.due_at)).where(_J.c.status == SCHEDULED).scalar_subquery(),
            )
        )
    ).one()
    times = [_aware(v) for v in row if v is not None]
    return min(times) if times else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------------- deliveries


async def claim(
    session: AsyncSession,
    *,
    job_id: int,
    worker_id: str,
    now: datetime,
    limit: int,
) -> list[ClaimedDelivery]:
    """Atomically take up to ``limit`` due pending deliveries of a job: pending -> sending.

    PostgreSQL: the CTE locks the rows ``FOR UPDATE SKIP LOCKED``, so concurrent claimers
    get disjoint rows and never wait for each other; the UPDATE re-checks the status.
    SQLite: one writer at a time, the same statement is atomic.
    """
    # A CTE, evaluated once: as a plain IN (subquery) PostgreSQL may run the locking
    # subquery again for each row and so update more than `limit` rows.
    picked = (
        select(_D.c.id)
        .where(_D.c.job_id == job_id, _D.c.status == PENDING, _D.c.next_attempt_at <= now)
        .order_by(_D.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
    )
    result = await session.execute(
        update(_D)
        .where(_D.c.id.in_(select(picked.c.id)), _D.c.status == PENDING)
        .values(status=SENDING, claimed_by=worker_id, claimed_at=now)
        .returning(
            _D.c.id, _D.c.job_id, _D.c.user_id, _D.c.chat_id, _D.c.locale, _D.c.attempts,
            _D.c.params,
        )
    )
    rows = [
        ClaimedDelivery(r.id, r.job_id, r.user_id, r.chat_id, r.locale, r.attempts, now, r.params)
        for r in result.all()
    ]
    rows.sort(key=lambda r: r.id)
    return rows


_RECORD = (
    update(_D)
    .where(_D.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=_D.c.attempts + bindparam("b_inc"),
        message_id=bindparam("b_message_id", type_=BigInteger()),
        sent_at=bindparam("b_sent_at", type_=UTCDateTime()),
        next_attempt_at=func.coalesce(
            bindparam("b_next_at", type_=UTCDateTime()), _D.c.next_attempt_at
        ),
        chat_id=func.coalesce(bindparam("b_chat_id", type_=BigInteger()), _D.c.chat_id),
        last_error=bindparam("b_error"),
        claimed_by=bindparam("b_claimed_by"),
        claimed_at=bindparam("b_claimed_at", type_=UTCDateTime()),
    )
)


def outcome(
    delivery_id: int,
    status: str,
    *,
    attempted: bool = True,
    message_id: int | None = None,
    sent_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
    chat_id: int | None = None,
    error: str | None = None,
    claimed_by: str | None = None,
    claimed_at: datetime | None = None,
) -> dict[str, Any]:
    """One row for `record_outcomes`. Back to pending clears the claim."""
    if status == PENDING:
        claimed_by = claimed_at = None
    return {
        "b_id": delivery_id,
        "b_status": status,
        "b_inc": 1 if attempted else 0,
        "b_message_id": message_id,
        "b_sent_at": sent_at,
        "b_next_at": next_attempt_at,
        "b_chat_id": chat_id,
        "b_error": error[:1000] if error else None,
        "b_claimed_by": claimed_by,
        "b_claimed_at": claimed_at,
    }


async def record_outcomes(session: AsyncSession, outcomes: Sequence[dict[str, Any]]) -> None:
    """Write many send results in one executemany (rows from `outcome`)."""
    if outcomes:
        await session.execute(_RECORD, list(outcomes))


async def release(session: AsyncSession, delivery_ids: Sequence[int], worker_id: str) -> int:
    """Claimed but never sent: back to pending, not counted as an attempt."""
    released = 0
    for start in range(0, len(delivery_ids), BATCH):
        result = await session.execute(
            update(_D)
            .where(
                _D.c.id.in_(delivery_ids[start : start + BATCH]),
                _D.c.status == SENDING,
                _D.c.claimed_by == worker_id,
            )
            .values(status=PENDING, claimed_by=None, claimed_at=None)
        )
        released += int(result.rowcount)  # type: ignore[attr-defined]
    return released


async def claim_holders(session: AsyncSession) -> list[str]:
    """The workers holding rows in ``sending``."""
    return [
        w
        for w in await session.scalars(
            select(_D.c.claimed_by).where(_D.c.status == SENDING).distinct()
        )
        if w is not None
    ]


async def reclaim(
    session: AsyncSession,
    *,
    now: datetime,
    max_attempts: int,
    worker_ids: Sequence[str] = (),
    stale_before: datetime | None = None,
    delivery_ids: Sequence[int] | None = None,
) -> int:
    """Rows left in ``sending`` whose sender is gone: back to pending, counted as an attempt
    of unknown outcome (the message may have left: it will be sent again), or failed once
    ``max_attempts`` is reached.

    Which rows: those held by ``worker_ids`` (known to be dead, or this worker at its
    start), claims older than ``stale_before`` (the holder's lease ran out), or, when
    ``delivery_ids`` is given, only those of them held by ``worker_ids``.
    """
    conditions = []
    if delivery_ids is not None:
        if not delivery_ids or not worker_ids:
            return 0
        conditions.append(and_(_D.c.id.in_(delivery_ids), _D.c.claimed_by.in_(list(worker_ids))))
    elif worker_ids:
        conditions.append(_D.c.claimed_by.in_(list(worker_ids)))
    if stale_before is not None:
        conditions.append(_D.c.claimed_at < stale_before)
    if not conditions:
        return 0
    exhausted = _D.c.attempts + 1 >= max_attempts
    result = await session.execute(
        update(_D)
        .where(_D.c.status == SENDING, or_(false(), *conditions))
        .values(
            status=case((exhausted, FAILED), else_=PENDING),
            attempts=_D.c.attempts + 1,
            last_error=UNKNOWN_OUTCOME,
            next_attempt_at=now,
            claimed_by=None,
            claimed_at=None,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def heartbeat(session: AsyncSession, worker_id: str, now: datetime) -> int:
    """Renew this worker's lease on the rows it holds."""
    result = await session.execute(
        update(_D)
        .where(_D.c.status == SENDING, _D.c.claimed_by == worker_id)
        .values(claimed_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def job_counts(session: AsyncSession, job_id: int) -> JobCounts:
    """Counts by status for one job, in one GROUP BY query."""
    rows = (
        await session.execute(
            select(_D.c.status, func.count(_D.c.id), func.count(_D.c.acked_at), _J.c.skipped)
            .select_from(_J.outerjoin(_D, _D.c.job_id == _J.c.id))
            .where(_J.c.id == job_id)
            .group_by(_D.c.status, _J.c.skipped)
        )
    ).all()
    by_status: dict[str, int] = {}
    acked = skipped = 0
    for status, count, acks, job_skipped in rows:
        skipped = int(job_skipped or 0)
        if status is not None:
            by_status[status] = int(count)
            acked += int(acks)
    return JobCounts(
        total=sum(by_status.values()),
        sent=by_status.get(SENT, 0),
        blocked=by_status.get(BLOCKED, 0),
        failed=by_status.get(FAILED, 0),
        pending=by_status.get(PENDING, 0) + by_status.get(SENDING, 0),
        acked=acked,
        skipped=skipped,
    )


async def record_ack(
    session: AsyncSession, delivery_id: int, user_tg_id: int, at: datetime | None = None
) -> bool:
    """The recipient pressed "understood": set acked_at the first time.

    True when the delivery is that user's (pressing again keeps the first time), False
    when it is not theirs or does not exist.
    """
    user_id = select(User.id).where(User.tg_id == user_tg_id).scalar_subquery()
    result = await session.execute(
        update(_D)
        .where(_D.c.id == delivery_id, _D.c.user_id == user_id, _D.c.acked_at.is_(None))
        .values(acked_at=at or utcnow())
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    owned = await session.scalar(
        select(_D.c.id).where(_D.c.id == delivery_id, _D.c.user_id == user_id)
    )
    return owned is not None


async def deliveries_of(session: AsyncSession, job_id: int) -> Sequence[Delivery]:
    return (
        await session.scalars(
            select(Delivery).where(Delivery.job_id == job_id).order_by(Delivery.id)
        )
    ).all()
