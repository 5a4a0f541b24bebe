"""The one place that builds the bot and the dispatcher; `prevnet run` and the tests use it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import TelegramMethod
from aiogram.types import InputFile
from aiogram.utils.i18n import I18n
from aiohttp.payload import BytesPayload
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dbguard
from bot.callback_answer import CallbackAnswerMiddleware
from bot.commands import set_default_menus
from bot.config import Settings
from bot.context import AppContext, JobSetup
from bot.delivery import DeliveryEngine
from bot.flow import UpdateFlowMiddleware
from bot.i18n import UserLocaleMiddleware, create_i18n
from bot.middlewares import ActorMiddleware, DbSessionMiddleware
from bot.scheduler import create_scheduler
from bot.services import broadcasts, digests, events, reports
from handlers import get_routers
from storage.fsm import SqlStorage
from storage.models import utcnow
from storage.repositories import updates

log = logging.getLogger(__name__)
PROCESSED_UPDATES_KEPT = timedelta(days=2)
# How long a stop waits for the updates already being handled (systemd waits 90 s).
SHUTDOWN_GRACE = 10.0

# Each feature's `setup_jobs(ctx)`: registers its scheduled jobs (sync or async).
JOB_SETUPS: tuple[JobSetup, ...] = (events.setup_jobs, reports.setup_jobs, digests.setup_jobs)


class FormSession(AiohttpSession):
    """aiogram's HTTP session, sending a request without files as a plain url-encoded form
    (aiohttp's FormData makes a multipart writer, with a random boundary, for every
    request even when it is not used)."""

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        files: dict[str, InputFile] = {}
        fields: list[tuple[str, str]] = []
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files)
            if value:
                fields.append((key, value.value if isinstance(value, Enum) else str(value)))
        if files:
            return super().build_form_data(bot, method)
        return BytesPayload(
            urlencode(fields).encode(), content_type="application/x-www-form-urlencoded"
        )


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        api = (
            TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
            if settings.telegram_api_url
            else PRODUCTION
        )
        session = FormSession(api=api)
    return Bot(
        token=settings.require_token(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_fsm_storage(
    settings: Settings, session_pool: async_sessionmaker[AsyncSession]
) -> BaseStorage:
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return SqlStorage(session_pool)


def run_sync_filters_inline(dp: Dispatcher) -> int:
    """aiogram runs a synchronous filter (every `F.data.startswith(...)`, `F.text == ...`)
    in a worker thread, one thread round trip per filter checked per update; these are
    pure and take microseconds, so they are called in place. Returns how many."""
    changed = 0
    for router in dp.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for filter_ in handler.filters or ():
                    if filter_.awaitable:
                        continue
                    filter_.callback = _in_place(filter_.callback)
                    filter_.awaitable = True
                    changed += 1
    return changed


def _in_place(callback: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    return call


def create_dispatcher(
    settings: Settings,
    session_pool: async_sessionmaker[AsyncSession],
    bot: Bot,
    *,
    i18n: I18n | None = None,
    storage: BaseStorage | None = None,
) -> Dispatcher:
    """All routers, middlewares and services, wired once.

    Long-lived services live in the dispatcher's workflow data, so handlers receive them as
    arguments: `settings`, `session_pool`, `i18n`, `delivery` (the outbox for mass sends)
    and `scheduler`. The delivery engine and the scheduler run between the dispatcher's
    startup and shutdown; tests that feed updates without starting it call
    `delivery.run_until_idle()` to flush what was queued.
    """
    i18n = i18n or create_i18n(settings.default_locale)
    dbguard.install(bot)
    delivery = DeliveryEngine(
        bot, session_pool, rate=settings.broadcast_rate, reply_rate=settings.reply_rate
    )
    delivery.on_job_progress = broadcasts.progress_reporter(bot, i18n, session_pool)
    scheduler = create_scheduler()
    dp = Dispatcher(
        storage=storage or create_fsm_storage(settings, session_pool),
        settings=settings,
        session_pool=session_pool,
        i18n=i18n,
        delivery=delivery,
        scheduler=scheduler,
    )
    flow = UpdateFlowMiddleware(
        i18n,
        max_in_flight=settings.max_updates_in_flight,
        flood_limit=settings.flood_limit,
        flood_window=settings.flood_window,
    )
    dp.update.outer_middleware(flow)
    dp.update.outer_middleware(DbSessionMiddleware(session_pool))
    dp.update.outer_middleware(ActorMiddleware(settings))
    UserLocaleMiddleware(i18n).setup(dp)
    # Inner, so on every router's callback handlers (and their flags): each press answered once.
    dp.callback_query.middleware(CallbackAnswerMiddleware())
    dp.include_routers(*get_routers())
    run_sync_filters_inline(dp)

    async def on_startup(bot: Bot) -> None:
        async with session_pool() as session:
            pruned = await updates.prune(session, utcnow() - PROCESSED_UPDATES_KEPT)
            await session.commit()
        if pruned:
            log.info("forgot %d old update ids", pruned)
        try:
            await set_default_menus(bot, i18n)
        except TelegramAPIError as exc:  # the menu is a convenience: never refuse to start
            log.warning("could not set the command menus: %s", exc)
        await delivery.start()
        context = AppContext(
            bot=bot,
            session_pool=session_pool,
            settings=settings,
            i18n=i18n,
            scheduler=scheduler,
            delivery=delivery,
        )
        for setup in JOB_SETUPS:
            result = setup(context)
            if inspect.isawaitable(result):
                await result
        scheduler.start()
        me = await bot.me()
        log.info("prevnet is up as @%s", me.username)

    async def on_shutdown() -> None:
        # Polling has stopped; let the updates already taken finish before the Telegram
        # session closes (aiogram closes it right after this hook).
        await flow.drain(SHUTDOWN_GRACE)
        await scheduler.stop()
        await delivery.stop()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp
