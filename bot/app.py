"""Running the bot: migrations, then long polling or a webhook, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from aiogram import Bot, Dispatcher
from aiohttp import web

from bot.config import Settings
from bot.factory import create_bot, create_dispatcher
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade

log = logging.getLogger(__name__)


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


async def run(settings: Settings) -> None:
    settings.require_token()
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        session_pool = create_session_pool(engine)
        bot = create_bot(settings)
        dp = create_dispatcher(settings, session_pool, bot)
        tune_gc()
        if settings.webhook_url:
            await _run_webhook(settings, bot, dp)
        else:
            await dp.start_polling(
                bot,
                allowed_updates=dp.resolve_used_update_types(),
                handle_signals=True,
                close_bot_session=True,
            )
    finally:
        await engine.dispose()
    log.info("prevnet stopped")


async def _run_webhook(settings: Settings, bot: Bot, dp: Dispatcher) -> None:
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application

    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if not secret:
        raise SystemExit("WEBHOOK_SECRET must be set in webhook mode")
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(
        app, path="/webhook"
    )
    setup_application(app, dp, bot=bot)
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
