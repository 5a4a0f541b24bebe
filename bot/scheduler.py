"""APScheduler wiring. The database is the source of truth for what is due: jobs are plain
async functions that look up what they need when they run, so the in-memory job store
loses nothing on restart (each feature re-plans from its tables at start)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings

if TYPE_CHECKING:
    from bot.services.delivery import DeliveryEngine


@dataclass
class AppContext:
    """What scheduled jobs need; handed to each feature's `setup_jobs`."""

    bot: Bot
    session_pool: async_sessionmaker[AsyncSession]
    settings: Settings
    i18n: I18n
    scheduler: AsyncIOScheduler
    delivery: DeliveryEngine


JobSetup = Callable[[AppContext], Any]


def create_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )


def job_setups() -> tuple[JobSetup, ...]:
    """Each feature's `setup_jobs(ctx)`: registers its jobs (sync or async)."""
    from bot.services import digests, events, reports

    return (events.setup_jobs, reports.setup_jobs, digests.setup_jobs)
