"""APScheduler wiring. The database is the source of truth for what is due: jobs are plain
async functions that look up what they need when they run, so the in-memory job store
loses nothing on restart (each feature re-plans from its tables at start)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage.engine import db_scope

log = logging.getLogger(__name__)


class ScopedScheduler(AsyncIOScheduler):
    """Each run of an async job is a database scope of its own (storage.engine.db_scope),
    so a connection it holds across a request to Telegram is seen (bot/dbguard.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.running_jobs: set[asyncio.Task[Any]] = set()

    def add_job(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(func):
            func = _scoped(func, self.running_jobs)
        return super().add_job(func, *args, **kwargs)

    async def stop(self, grace: float = 10.0) -> None:
        """No new runs; let the runs in progress finish (up to ``grace`` seconds, then they
        are cancelled), so none is cut off in the middle of a query."""
        if not self.running:
            return
        self.pause()
        running = [t for t in self.running_jobs if not t.done()]
        if running:
            log.info("waiting for %d scheduled job(s) to finish", len(running))
            _done, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self.shutdown(wait=False)


def _scoped(
    func: Callable[..., Awaitable[Any]], running: set[asyncio.Task[Any]]
) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
            task.add_done_callback(running.discard)
        with db_scope():
            try:
                return await func(*args, **kwargs)
            except (TelegramNetworkError, TelegramServerError) as exc:
                # Telegram unreachable: one line, not a traceback; the job's rows are
                # still due, so its next run does the work.
                log.warning("job %s: Telegram is not reachable (%s)", func.__qualname__, exc)
                return None

    return run


def create_scheduler() -> ScopedScheduler:
    return ScopedScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
