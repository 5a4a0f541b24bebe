"""The delivery engine: the outbox every mass send goes through (docs/delivery.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outcomes import EngineStats, Outcomes, _Result
from bot.delivery.payload import Recipient, Template, check_overrides
from bot.delivery.progress import ProgressCallback, ProgressReports
from bot.delivery.ratelimit import (
    _BULK,
    RateLimitMiddleware,
    SendLimiter,
)
from bot.delivery.shared_limit import build_limits
from bot.delivery.workers import LIVE_WORKERS, default_worker_id, is_dead_local_worker
from storage.engine import db_scope
from storage.models import SendJob, utcnow
from storage.repositories import delivery as repo
from storage.repositories.delivery import (
    ClaimedDelivery,
)

log = logging.getLogger(__name__)

_KIND_LENGTH = 16


@dataclass(slots=True)
class _Job:
    id: int
    payload: dict[str, Any]
    templates: dict[str, Template] = field(default_factory=dict)

    def template(self, locale: str) -> Template:
        tpl = self.templates.get(locale)
        if tpl is None:
            tpl = self.templates[locale] = Template(self.payload, locale)
        return tpl


class DeliveryEngine(ProgressReports, Outcomes):
    """See docs/delivery.md."""

    def __init__(
        self,
        bot: Bot,
        session_pool: async_sessionmaker[AsyncSession],
        *,
        rate: float,
        worker_id: str | None = None,
        max_attempts: int = 5,
        concurrency: int | None = None,
        lease: float = 60.0,
        backoff_base: float = 2.0,
        backoff_max: float = 600.0,
        poll_interval: float = 1.0,
        progress_interval: float = 2.0,
        request_timeout: int | None = None,
        per_chat_interval: float = 1.05,
        claim_batch: int | None = None,
        stop_grace: float = 10.0,
        record_linger: float = 0.02,
        limiter: SendLimiter | None = None,
        reply_rate: float | None = None,
        redis_url: str | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.bot = bot
        self.session_pool = session_pool
        self.rate = float(rate)
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.max_attempts = max_attempts
        # Enough requests in flight for the rate with Telegram's round trips (~0.1-0.5 s).
        self.concurrency = concurrency or max(10, min(100, math.ceil(self.rate / 2)))
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.progress_interval = progress_interval
        self.request_timeout = request_timeout
        self.stop_grace = stop_grace
        self.record_linger = record_linger
        self.claim_batch = claim_batch or max(2 * self.concurrency, min(500, math.ceil(rate)))
        # The given limiter, else one for every process on Redis (shared_limit.py), else
        # this process's own; `_shared` is closed by stop().
        self.limiter, spacer, self._shared = build_limits(
            bot.id if redis_url else 0, rate=self.rate, reply_rate=reply_rate,
            per_chat_interval=per_chat_interval, redis_url=redis_url, limiter=limiter,
        )
        self.middleware = RateLimitMiddleware(self.limiter, spacer)
        self.on_job_progress: ProgressCallback | None = None
        self.stats = EngineStats()

        self._jobs: dict[int, _Job] = {}
        self._queue: asyncio.Queue[ClaimedDelivery | None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._results_ready: asyncio.Event | None = None
        self._results: list[_Result] = []
        self._inflight: dict[int, ClaimedDelivery] = {}
        self._db_lock: asyncio.Lock | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._recorder_task: asyncio.Task[None] | None = None
        self._senders: list[asyncio.Task[None]] = []
        self._progress_tasks: dict[int, asyncio.Task[None]] = {}
        self._last_progress: dict[int, float] = {}
        self._stopping = False
        self._recorder_closing = False
        self._installed_here = False
        self._jobs_running = False
        self._rr = 0
        self._network_backoff = 0.0

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._main_task is not None

    def install(self) -> None:
        """Put the rate-limit middleware on the bot's session (once)."""
        if self.middleware not in self.bot.session.middleware:
            self.bot.session.middleware(self.middleware)

    def uninstall(self) -> None:
        if self.middleware in self.bot.session.middleware:
            self.bot.session.middleware.unregister(self.middleware)

    async def start(self) -> None:
        if self._main_task is not None:
            return
        self._installed_here = self.middleware not in self.bot.session.middleware
        self.install()
        LIVE_WORKERS.add(self.worker_id)
        self._stopping = False
        self._recorder_closing = False
        self._queue = asyncio.Queue()
        self._wakeup = asyncio.Event()
        self._results_ready = asyncio.Event()
        self._db_lock = asyncio.Lock()
        self._results = []
        self._inflight = {}
        await self._with_db(self._startup_reclaim)
        self._recorder_task = asyncio.create_task(self._recorder(), name="delivery-recorder")
        self._senders = [
            asyncio.create_task(self._sender(), name=f"delivery-sender-{i}")
            for i in range(self.concurrency)
        ]
        self._main_task = asyncio.create_task(self._claim_loop(), name="delivery-claimer")
        log.info(
            "delivery engine %s started: %.4g msg/s, %d in flight",
            self.worker_id,
            self.rate,
            self.concurrency,
        )

    async def stop(self) -> None:
        """Finish in-flight sends, release the rest of the claims, return."""
        main = self._main_task
        if main is None:
            return
        assert self._queue is not None and self._wakeup is not None
        assert self._results_ready is not None
        self._stopping = True
        self._wakeup.set()
        try:
            await main
        except Exception:
            log.exception("the delivery loop had failed")
        # Claimed but not started: back to pending, not an attempt.
        unsent: list[int] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                unsent.append(item.id)
        for _ in self._senders:
            self._queue.put_nowait(None)
        if unsent:
            await self._with_db(lambda s: repo.release(s, unsent, self.worker_id), commit=True)
        _done, pending = await asyncio.wait(self._senders, timeout=self.stop_grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        self._recorder_closing = True
        self._results_ready.set()
        if self._recorder_task is not None:
            await asyncio.gather(self._recorder_task, return_exceptions=True)
        # Cut off mid-request (stop_grace ran out): outcome unknown, sent again later.
        cut = list(self._inflight)
        if cut:
            await self._with_db(
                lambda s: repo.reclaim(
                    s,
                    now=utcnow(),
                    max_attempts=self.max_attempts,
                    worker_ids=[self.worker_id],
                    delivery_ids=cut,
                ),
                commit=True,
            )
        await self._wait_progress()
        self._main_task = self._recorder_task = None
        self._senders = []
        self._inflight = {}
        self._jobs.clear()
        if self._installed_here:  # start() put it there: the bot is back as it was
            self.uninstall()
        if self._shared is not None:  # its Redis client (made again if still used)
            await self._shared.aclose()
        LIVE_WORKERS.discard(self.worker_id)
        log.info("delivery engine %s stopped", self.worker_id)

    @property
    def retry_after_received(self) -> int:
        """429 answers seen by this engine's middleware (interactive and bulk)."""
        return self.middleware.retry_after_count

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def run_until_idle(self, timeout: float = 60.0) -> None:
        own = self._main_task is None
        if own:
            await self.start()
        try:
            async with asyncio.timeout(timeout):
                while not await self._idle():
                    self.wake()
                    await asyncio.sleep(0.02)
        finally:
            if own:
                await self.stop()

    async def _idle(self) -> bool:
        if self._main_task is not None and self._main_task.done():
            self._main_task.result()  # the loop died: raise its error
        assert self._queue is not None
        if self._queue.qsize() or self._inflight or self._results:
            return False
        await self._finish_jobs()
        async with self.session_pool() as session:
            if await repo.has_due_work(session, utcnow()):
                return False
        if self._queue.qsize() or self._inflight or self._results:
            return False
        await self._wait_progress()
        return True

    # -------------------------------------------------------------------- enqueue

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        kind: str,
        payload: dict[str, Any],
        recipients: Sequence[Recipient],
        network_id: int | None = None,
        author_id: int | None = None,
        due_at: datetime | None = None,
        progress: tuple[int, int] | None = None,
    ) -> SendJob:
        """Store a job and its deliveries (one transaction, committed). See the docstring."""
        if not kind or len(kind) > _KIND_LENGTH:
            raise ValueError(f"kind must be 1..{_KIND_LENGTH} characters")
        if due_at is not None and due_at.tzinfo is None:
            raise ValueError("due_at must be timezone-aware")
        unique: dict[int, Recipient] = {}
        for recipient in recipients:
            unique.setdefault(recipient.user_id, recipient)
        for locale in {r.locale for r in unique.values()} or {"en"}:
            Template(payload, locale).check()
        for recipient in unique.values():
            check_overrides(recipient.params)
        unreachable = await repo.unreachable_user_ids(session, list(unique))
        targets = [r for r in unique.values() if r.user_id not in unreachable]
        now = utcnow()
        due = due_at or now
        job = await repo.create_job(
            session,
            kind=kind,
            payload=payload,
            due_at=due,
            total=len(targets),
            skipped=len(unique) - len(targets),
            network_id=network_id,
            author_id=author_id,
            progress_chat_id=progress[0] if progress else None,
            progress_message_id=progress[1] if progress else None,
        )
        await repo.insert_deliveries(
            session, job.id, ((r.user_id, r.chat_id, r.locale, r.params) for r in targets), due
        )
        await session.commit()
        log.info(
            "job %s (%s) queued: %d recipients, %d skipped as unreachable, due %s",
            job.id,
            kind,
            len(targets),
            len(unique) - len(targets),
            due.isoformat(timespec="seconds"),
        )
        if due <= utcnow():
            self.wake()
        return job

    async def cancel(self, session: AsyncSession, job_id: int) -> bool:
        cancelled = await repo.cancel_job(session, job_id, utcnow())
        await session.commit()
        return cancelled

    # --------------------------------------------------------------------- the loop

    async def _with_db(
        self, work: Callable[[AsyncSession], Awaitable[Any]], *, commit: bool = True
    ) -> Any:
        """Run ``work`` in a fresh session under this engine's write lock."""
        lock = self._db_lock or asyncio.Lock()
        async with lock, self.session_pool() as session:
            result = await work(session)
            if commit:
                await session.commit()
            return result

    async def _startup_reclaim(self, session: AsyncSession) -> None:
        now = utcnow()
        dead = [w for w in await repo.claim_holders(session) if is_dead_local_worker(w)]
        count = await repo.reclaim(
            session,
            now=now,
            max_attempts=self.max_attempts,
            worker_ids=[self.worker_id, *dead],
            stale_before=now - timedelta(seconds=self.lease),
        )
        if count:
            log.warning("%d deliveries left in flight by a stopped sender will be retried", count)

    async def _claim_loop(self) -> None:
        assert self._wakeup is not None and self._queue is not None
        next_maintenance = time.monotonic() + self.lease / 3
        next_finish = 0.0
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            timeout = self.poll_interval
            try:
                now_m = time.monotonic()
                if now_m >= next_maintenance:
                    next_maintenance = now_m + self.lease / 3
                    await self._with_db(self._maintenance)
                claimed = 0
                if self._queue.qsize() <= self.claim_batch // 2:
                    claimed = await self._claim()
                if self._jobs_running and (
                    now_m >= next_finish
                    or (not claimed and not self._queue.qsize() and not self._inflight)
                ):
                    next_finish = now_m + 0.5
                    await self._finish_jobs()
                if not claimed and not self._queue.qsize():
                    timeout = await self._idle_timeout()
                failures = 0
            except Exception:
                failures += 1
                timeout = min(30.0, 0.2 * 2**failures)
                log.exception("delivery loop: database error; retrying in %.1f s", timeout)
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    async def _idle_timeout(self) -> float:
        async with self.session_pool() as session:
            due = await repo.next_due_at(session)
        if due is None:
            return self.poll_interval
        return min(self.poll_interval, max(0.005, (due - utcnow()).total_seconds()))

    async def _maintenance(self, session: AsyncSession) -> None:
        now = utcnow()
        await repo.heartbeat(session, self.worker_id, now)
        dead = [w for w in await repo.claim_holders(session) if is_dead_local_worker(w)]
        stale = await repo.reclaim(
            session,
            now=now,
            max_attempts=self.max_attempts,
            worker_ids=dead,
            stale_before=now - timedelta(seconds=self.lease),
        )
        if stale:
            log.warning("%d deliveries of a dead sender (lease expired) will be retried", stale)

    async def _claim(self) -> int:
        assert self._queue is not None
        want = self.claim_batch - self._queue.qsize()
        if want <= 0:
            return 0

        async def work(session: AsyncSession) -> list[ClaimedDelivery]:
            now = utcnow()
            if await repo.has_due_scheduled(session, now):  # read first: no idle writes
                promoted = await repo.promote_due_jobs(session, now)
                if promoted:  # (empty: another process's engine started them)
                    log.info("jobs %s started", promoted)
            job_ids = await repo.running_job_ids(session)
            self._jobs_running = bool(job_ids)
            if not job_ids:
                await session.commit()
                return []
            start = self._rr % len(job_ids)
            self._rr += 1
            active = job_ids[start:] + job_ids[:start]
            claimed: list[ClaimedDelivery] = []
            for _ in range(3):  # a few passes: shares left by small jobs go to big ones
                if not active or len(claimed) >= want:
                    break
                share = max(1, math.ceil((want - len(claimed)) / len(active)))
                still: list[int] = []
                for job_id in active:
                    room = want - len(claimed)
                    if room <= 0:
                        still.append(job_id)
                        continue
                    limit = min(share, room)
                    rows = await repo.claim(
                        session, job_id=job_id, worker_id=self.worker_id, now=now, limit=limit
                    )
                    claimed.extend(rows)
                    if len(rows) == limit:
                        still.append(job_id)
                active = still
            missing = list({r.job_id for r in claimed} - self._jobs.keys())
            for job in await repo.get_jobs(session, missing):
                self._jobs[job.id] = _Job(job.id, job.payload)
            await session.commit()
            live = set(job_ids)
            for job_id in list(self._jobs):
                if job_id not in live:
                    del self._jobs[job_id]
            return claimed

        rows: list[ClaimedDelivery] = await self._with_db(work, commit=False)
        for row in rows:
            self._queue.put_nowait(row)
        self.stats.claimed += len(rows)
        return len(rows)

    async def _finish_jobs(self) -> None:
        finished: list[int] = await self._with_db(lambda s: repo.finish_jobs(s, utcnow()))
        for job_id in finished:
            log.info("job %s done", job_id)
            self._jobs.pop(job_id, None)
            self._last_progress.pop(job_id, None)
            previous = self._progress_tasks.get(job_id)
            self._track(job_id, self._progress(job_id, done=True, after=previous))

    def _templates_of(self, job_id: int, locale: str) -> Template:
        return self._jobs[job_id].template(locale)

    # -------------------------------------------------------------------- sending

    async def _sender(self) -> None:
        _BULK.set(True)  # this task's requests are low priority in the limiter
        with db_scope():  # it holds no connection while sending (bot/dbguard.py)
            await self._send_loop()

    async def _send_loop(self) -> None:
        assert self._queue is not None and self._results_ready is not None
        loop = asyncio.get_running_loop()
        queue = self._queue
        low_water = self.claim_batch // 2
        while True:
            row = await queue.get()
            if row is None:
                return
            if queue.qsize() <= low_water and self._wakeup is not None:
                self._wakeup.set()
            self._inflight[row.id] = row
            result = _Result(row, {}, loop.create_future())
            result.params = await self._send(row, result)
            self._results.append(result)
            self._results_ready.set()
            await asyncio.shield(result.done)
