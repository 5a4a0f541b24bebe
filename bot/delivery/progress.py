"""Progress of running send jobs, reported to `on_job_progress` (the author's live
message) at most every `progress_interval` seconds and once at the end."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outcomes import _Result
from bot.delivery.ratelimit import (
    _BULK,
)
from storage.engine import db_scope
from storage.repositories import delivery as repo
from storage.repositories.delivery import (
    job_counts,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobProgress:
    job_id: int
    kind: str
    network_id: int | None
    author_id: int | None
    progress_chat_id: int | None
    progress_message_id: int | None
    total: int
    sent: int
    blocked: int
    failed: int
    pending: int
    acked: int
    skipped: int
    done: bool  # the last call for this job


ProgressCallback = Callable[[JobProgress], Awaitable[None]]


class ProgressReports:
    """The progress half of `DeliveryEngine` (a mixin; its state is the engine's)."""

    session_pool: async_sessionmaker[AsyncSession]
    progress_interval: float
    on_job_progress: ProgressCallback | None
    _last_progress: dict[int, float]
    _progress_tasks: dict[int, asyncio.Task[None]]

    def _after_record(self, batch: list[_Result]) -> None:
        if self.on_job_progress is None:
            return
        now = time.monotonic()
        for job_id in {r.row.job_id for r in batch}:
            last = self._last_progress.get(job_id)
            if last is None:
                self._last_progress[job_id] = now  # the first report comes after an interval
                continue
            task = self._progress_tasks.get(job_id)
            if now - last >= self.progress_interval and (task is None or task.done()):
                self._last_progress[job_id] = now
                self._track(job_id, self._progress(job_id))

    def _track(self, job_id: int, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._progress_tasks[job_id] = task

        def forget(t: asyncio.Task[None]) -> None:
            if self._progress_tasks.get(job_id) is t:
                del self._progress_tasks[job_id]

        task.add_done_callback(forget)

    async def _progress(
        self, job_id: int, *, done: bool = False, after: asyncio.Task[None] | None = None
    ) -> None:
        _BULK.set(False)  # the author's progress message is not a bulk send
        with db_scope():
            await self._report_progress(job_id, done=done, after=after)

    async def _report_progress(
        self, job_id: int, *, done: bool, after: asyncio.Task[None] | None
    ) -> None:
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        callback = self.on_job_progress
        if callback is None:
            return
        try:
            async with self.session_pool() as session:
                job = await repo.get_job(session, job_id)
                if job is None:
                    return
                counts = await job_counts(session, job_id)
            await callback(
                JobProgress(
                    job_id=job.id,
                    kind=job.kind,
                    network_id=job.network_id,
                    author_id=job.author_id,
                    progress_chat_id=job.progress_chat_id,
                    progress_message_id=job.progress_message_id,
                    total=counts.total,
                    sent=counts.sent,
                    blocked=counts.blocked,
                    failed=counts.failed,
                    pending=counts.pending,
                    acked=counts.acked,
                    skipped=counts.skipped,
                    done=done,
                )
            )
        except Exception:
            log.exception("progress callback for job %s failed", job_id)

    async def _wait_progress(self) -> None:
        while True:
            tasks = [t for t in self._progress_tasks.values() if not t.done()]
            if not tasks:
                break
            await asyncio.gather(*tasks, return_exceptions=True)
        self._progress_tasks = {}
