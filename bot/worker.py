"""The worker's duties: the delivery engine and every scheduled job.

`prevnet run` does them beside taking updates (the dispatcher's startup and shutdown
start and stop a `Worker`); `prevnet worker` does only them. Nothing a handler does needs
them in its own process: the database is the queue. A handler's `delivery.enqueue` is
seen by every engine's claim loop within its poll interval (`wake()` only saves that
second here), a scheduled broadcast is a job row with a later `due_at`, an event's
reminders are rows the reminder tick claims every few seconds, and a digest schedule
changed elsewhere is re-planned by the digest sync (and checked when its trigger fires).
"""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dbguard
from bot.commands import set_default_menus
from bot.config import Settings
from bot.context import AppContext, JobSetup
from bot.delivery import DeliveryEngine
from bot.scheduler import create_scheduler
from bot.services import broadcasts, digests, events, feedback, plans, reports, retention
from storage.models import utcnow
from storage.repositories import updates

log = logging.getLogger(__name__)
# Each feature's `setup_jobs(ctx)`: registers its scheduled jobs (sync or async).
JOB_SETUPS: tuple[JobSetup, ...] = (
    events.setup_jobs, reports.setup_jobs, digests.setup_jobs, retention.setup_jobs,
    plans.setup_jobs,
    feedback.setup_jobs,
)


def create_context(
    settings: Settings,
    session_pool: async_sessionmaker[AsyncSession],
    bot: Bot,
    i18n: I18n,
) -> AppContext:
    """The delivery engine and the scheduler, not started yet."""
    dbguard.install(bot)  # no connection held across a request to Telegram (idempotent)
    delivery = DeliveryEngine(
        bot, session_pool, rate=settings.broadcast_rate, reply_rate=settings.reply_rate,
        redis_url=settings.redis_url,  # with Redis: one Telegram limit for all processes
    )
    delivery.on_job_progress = broadcasts.progress_reporter(bot, i18n, session_pool)
    return AppContext(
        bot=bot,
        session_pool=session_pool,
        settings=settings,
        i18n=i18n,
        scheduler=create_scheduler(),
        delivery=delivery,
    )


class Worker:
    """Starts and stops the worker's duties for one `AppContext`."""

    def __init__(
        self, context: AppContext, job_setups: tuple[JobSetup, ...] | None = None
    ) -> None:
        self.context = context
        self.job_setups = JOB_SETUPS if job_setups is None else job_setups
        self.started = False

    async def start(self) -> None:
        """Forget old update ids, set the command menus, start the delivery engine,
        register every feature's jobs and start the scheduler."""
        if self.started:
            return
        ctx = self.context
        pruned = 0
        if ctx.settings.retain_update_ids_days:  # RETAIN_UPDATE_IDS_DAYS; 0: kept forever
            kept = timedelta(days=ctx.settings.retain_update_ids_days)
            async with ctx.session_pool() as session:
                pruned = await updates.prune(session, utcnow() - kept)
                await session.commit()
        if pruned:
            log.info("forgot %d old update ids", pruned)
        try:
            await set_default_menus(ctx.bot, ctx.i18n)
        except TelegramAPIError as exc:  # the menu is a convenience: never refuse to start
            log.warning("could not set the command menus: %s", exc)
        await ctx.delivery.start()
        self.started = True
        for setup in self.job_setups:
            result = setup(ctx)
            if inspect.isawaitable(result):
                await result
        ctx.scheduler.start()

    async def stop(self) -> None:
        """The scheduler lets the job runs in progress finish, then the engine finishes
        its in-flight sends and gives back the rest of its claims."""
        await self.context.scheduler.stop()
        await self.context.delivery.stop()
        self.started = False
