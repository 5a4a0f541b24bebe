"""The one place that builds the bot and the dispatcher; `prevnet run` and the tests use it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.methods import TelegramMethod
from aiogram.types import InputFile
from aiogram.utils.i18n import I18n
from aiohttp.payload import BytesPayload
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import dbguard
from bot.callback_answer import CallbackAnswerMiddleware
from bot.config import Settings
from bot.flow import UpdateFlowMiddleware
from bot.heartbeat import Heartbeat
from bot.i18n import UserLocaleMiddleware, create_i18n
from bot.middlewares import ActorMiddleware, DbSessionMiddleware
from bot.worker import JOB_SETUPS as JOB_SETUPS  # where they were listed before
from bot.worker import Worker, create_context
from handlers import get_routers
from storage.fsm import SqlStorage

log = logging.getLogger(__name__)
# How long a stop waits for the updates already being handled (systemd waits 90 s).
SHUTDOWN_GRACE = 10.0


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


def create_events_isolation(storage: BaseStorage) -> BaseEventIsolation | None:
    """With dialog state in Redis, the updates of one person in one chat are handled one
    at a time by all the processes sharing it (a Redis lock around each); without Redis
    there is one process, and none is needed."""
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    if isinstance(storage, RedisStorage):
        return RedisEventIsolation(storage.redis, key_builder=storage.key_builder)
    return None


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
    and `scheduler`. The delivery engine and the scheduler (the worker's duties: `worker`,
    bot/worker.py) run between the dispatcher's startup and shutdown; tests that feed
    updates without starting it call `delivery.run_until_idle()` to flush what was queued.
    """
    i18n = i18n or create_i18n(settings.default_locale)
    dbguard.install(bot)
    context = create_context(settings, session_pool, bot, i18n)
    worker = Worker(context)
    storage = storage or create_fsm_storage(settings, session_pool)
    heartbeat = Heartbeat(session_pool, role="run")  # `prevnet status` lists this process
    dp = Dispatcher(
        storage=storage,
        events_isolation=create_events_isolation(storage),
        settings=settings,
        session_pool=session_pool,
        i18n=i18n,
        delivery=context.delivery,
        scheduler=context.scheduler,
        worker=worker,
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
        # The worker's duties (bot/worker.py); `prevnet worker` does only these.
        await worker.start()
        await heartbeat.start()
        me = await bot.me()
        log.info("prevnet is up as @%s", me.username)

    async def on_shutdown() -> None:
        # Polling has stopped; let the updates already taken finish before the Telegram
        # session closes (aiogram closes it right after this hook).
        await flow.drain(SHUTDOWN_GRACE)
        await worker.stop()
        await heartbeat.stop()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return dp
