"""APScheduler wiring. The database is the source of truth for what is due: jobs are plain
async functions that look up what they need when they run, so the in-memory job store
loses nothing on restart (each feature re-plans from its tables at start)."""

from __future__ import annotations

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

    def add_job(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        if inspect.iscoroutinefunction(func):
            func = _scoped(func)
        return super().add_job(func, *args, **kwargs)


def _scoped(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Any:
        with db_scope():
            try:
                return await func(*args, **kwargs)
            except (TelegramNetworkError, TelegramServerError) as exc:
                # Telegram unreachable: one line, not a traceback; the job's rows are
                # still due, so its next run does the work.
                log.warning("job %s: Telegram is not reachable (%s)", func.__qualname__, exc)
                return None

    return run


def create_scheduler() -> AsyncIOScheduler:
    return ScopedScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
