"""Running the bot: migrations, then long polling or a webhook, until SIGINT/SIGTERM;
or (`prevnet worker`) only the worker's duties (bot/worker.py), taking no updates."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User
from aiohttp import web

from bot.config import Settings
from bot.dashboard import Dashboard, add_dashboard_routes, start_server
from bot.errors import CliError
from bot.factory import create_bot, create_dispatcher
from bot.health import add_health_routes
from bot.heartbeat import Heartbeat
from bot.i18n import create_i18n
from bot.roles import refuse_worker_on_sqlite, single_process
from bot.services.dashboard import sync_menu_buttons
from bot.webhook import SecretRequestHandler, require_secret
from bot.worker import Worker, create_context
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade

log = logging.getLogger(__name__)

FIRST_RETRY = 1.0  # seconds before the second try to reach Telegram at start
MAX_RETRY = 60.0  # the longest wait between tries


class StartRefused(CliError):
    """Telegram refused the bot (a wrong token): one line on stderr, exit status 2."""


async def wait_for_telegram(
    bot: Bot, *, first_retry: float = FIRST_RETRY, max_retry: float = MAX_RETRY
) -> User:
    """getMe until Telegram answers: a 401 (or another refusal) is final; the network
    down, a time-out or a 5xx are tried again with backoff, one log line per try."""
    delay = first_retry
    attempt = 0
    while True:
        attempt += 1
        try:
            return await bot.me()
        except TelegramUnauthorizedError as exc:
            raise StartRefused(
                "Telegram refused BOT_TOKEN (401 Unauthorized): check the token from @BotFather"
            ) from exc
        except TelegramRetryAfter as exc:
            wait = float(exc.retry_after)
            reason = f"429, retry after {exc.retry_after} s"
        except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as exc:
            wait = delay
            delay = min(max_retry, delay * 2)
            reason = f"{type(exc).__name__}: {exc}"
        except TelegramAPIError as exc:
            raise StartRefused(f"Telegram refused getMe: {exc}") from exc
        log.warning(
            "Telegram is not reachable (try %d: %s); trying again in %.0f s", attempt, reason, wait
        )
        await asyncio.sleep(wait)


async def _until_stopped(work: asyncio.Future[User]) -> User | None:
    """Wait for ``work``; SIGINT/SIGTERM meanwhile cancel it (None: stopped)."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stopped.set)
    waiter: asyncio.Future[Any] = asyncio.ensure_future(stopped.wait())
    try:
        pending: set[asyncio.Future[Any]] = {work, waiter}
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        waiter.cancel()
    if work.done():
        return work.result()
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return None


def tune_gc() -> None:
    """Keep the garbage collector's pauses out of members' taps.

    Everything loaded at start (aiogram's hundreds of pydantic types, SQLAlchemy's
    mappers) lives as long as the process: freezing it takes it out of every future
    collection, and a larger first-generation threshold makes collections rarer. Without
    this a full collection stalls the event loop for hundreds of milliseconds now and
    then (bench/latency.py shows it in the p99).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)



async def _check_data_key(engine: Any) -> None:
    """Encryption at rest: refuse to start when DATA_KEY cannot read the database."""
    from storage.crypto import keyring
    from storage.rekey import key_problem

    problem = await key_problem(engine, keyring())
    if problem is not None:
        raise CliError(problem)


async def run(settings: Settings) -> None:
    settings.require_token()
    if settings.webhook_url:  # before Telegram is asked anything (bot/webhook.py)
        require_secret(webhook_secret(settings))
    with single_process(settings.database_url):  # SQLite: one bot process (bot/roles.py)
        await _run(settings)


async def _run(settings: Settings) -> None:
    bot = create_bot(settings)
    try:
        me = await _until_stopped(asyncio.ensure_future(wait_for_telegram(bot)))
    except BaseException:
        await bot.session.close()
        raise
    if me is None:
        await bot.session.close()
        log.info("prevnet stopped before Telegram answered")
        return
    log.info("Telegram answers: the bot is @%s", me.username)
    engine = create_engine(settings.database_url, **settings.db_pool_options())
    try:
        await upgrade(engine)
        await _check_data_key(engine)
        session_pool = create_session_pool(engine)
        dp = create_dispatcher(settings, session_pool, bot)
        dashboard = Dashboard.of(dp, bot) if settings.webapp_url else None
        if settings.webapp_url and not settings.webapp_url.startswith("https://"):
            log.warning("WEBAPP_URL is not an https:// address: Telegram opens only HTTPS")
        tune_gc()
        menus = _start_menu_sync(settings, bot, dp) if dashboard is not None else None
        try:
            if settings.webhook_url:
                await _run_webhook(settings, bot, dp, dashboard)
            else:
                await _run_polling(settings, bot, dp, dashboard)
        finally:
            if menus is not None:
                menus.cancel()
                await asyncio.gather(menus, return_exceptions=True)
    finally:
        await engine.dispose()
    log.info("prevnet stopped")


def _start_menu_sync(settings: Settings, bot: Bot, dp: Dispatcher) -> asyncio.Task[int]:
    """The Dashboard menu button for existing coordinators and admins, once, gently, in
    the background (bot/services/dashboard/menu.py); a failure is logged, never fatal."""

    async def sync() -> int:
        try:
            return await sync_menu_buttons(bot, dp["session_pool"], dp["i18n"], settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dashboard: could not set the menu buttons at start-up")
            return 0

    return asyncio.ensure_future(sync())


async def _run_polling(
    settings: Settings, bot: Bot, dp: Dispatcher, dashboard: Dashboard | None
) -> None:
    """Long polling; with WEBAPP_URL, the dashboard on WEBAPP_HOST:WEBAPP_PORT meanwhile."""
    runner = None
    if dashboard is not None:
        try:
            runner = await start_server(dashboard, settings.webapp_host, settings.webapp_port)
        except OSError as exc:
            await bot.session.close()
            raise CliError(
                f"the dashboard cannot listen on {settings.webapp_host}:{settings.webapp_port}"
                f" ({exc.strerror or exc}): set WEBAPP_HOST and WEBAPP_PORT, or unset WEBAPP_URL"
            ) from None
    try:
        await dp.start_polling(
            bot,
            allowed_updates=dp.resolve_used_update_types(),
            handle_signals=True,
            close_bot_session=True,
            # Memory bound on updates taken from Telegram and not yet done; the
            # dispatcher's flow middleware bounds how many are handled at once.
            tasks_concurrency_limit=settings.max_updates_in_flight * 4,
        )
    finally:
        if runner is not None:
            await runner.cleanup()
            log.info("dashboard stopped")


def webhook_secret(settings: Settings) -> str | None:
    return settings.webhook_secret.get_secret_value() if settings.webhook_secret else None


async def _run_webhook(
    settings: Settings, bot: Bot, dp: Dispatcher, dashboard: Dashboard | None = None
) -> None:
    from aiogram.webhook.aiohttp_server import setup_application

    secret = require_secret(webhook_secret(settings))  # checked in run() already
    app = web.Application()
    SecretRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(
        app, path="/webhook"
    )
    setup_application(app, dp, bot=bot)
    add_health_routes(app, dp["session_pool"], settings.redis_url)  # GET /healthz
    if dashboard is not None:  # WEBAPP_URL: the dashboard at /app/ on the same listener
        add_dashboard_routes(app, dashboard)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    assert settings.webhook_url is not None
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + "/webhook",
        secret_token=secret,
        allowed_updates=dp.resolve_used_update_types(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("webhook listening on %s:%s", settings.webhook_host, settings.webhook_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _stop_signal() -> None:
    """Return on the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run_worker(settings: Settings) -> None:
    """`prevnet worker`: the delivery engine and the scheduled jobs, no updates (no
    polling, no webhook, the webhook left as it is), until SIGINT/SIGTERM."""
    refuse_worker_on_sqlite(settings.database_url)
    settings.require_token()
    bot = create_bot(settings)
    try:
        me = await _until_stopped(asyncio.ensure_future(wait_for_telegram(bot)))
        if me is None:
            log.info("prevnet worker stopped before Telegram answered")
            return
        log.info("Telegram answers: the bot is @%s", me.username)
        stopped = asyncio.ensure_future(_stop_signal())  # a signal from here on: a clean stop
        engine = create_engine(settings.database_url, **settings.db_pool_options())
        try:
            await upgrade(engine)
            await _check_data_key(engine)
            context = create_context(
                settings, create_session_pool(engine), bot, create_i18n(settings.default_locale)
            )
            worker = Worker(context)
            heartbeat = Heartbeat(context.session_pool, role="worker")  # `prevnet status`
            try:
                if not stopped.done():
                    await worker.start()
                    await heartbeat.start()
                    tune_gc()
                    log.info(
                        "prevnet worker is up as @%s: delivery and scheduled jobs", me.username
                    )
                await stopped
                log.info("prevnet worker stopping: finishing the jobs and sends in progress")
            finally:
                await heartbeat.stop()
                await worker.stop()
        finally:
            stopped.cancel()
            await engine.dispose()
    finally:
        await bot.session.close()
    log.info("prevnet worker stopped")
