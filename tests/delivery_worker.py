"""A delivery worker process for the crash test, and helpers shared by the delivery tests.

    python -m tests.delivery_worker --db URL --api BASE_URL [--rate R] [--concurrency C]
                                    [--worker-id W]

Runs a DeliveryEngine on the database against the (fake) Bot API until every due job is
done, printing ``STARTED`` when it runs and ``DONE`` at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine, Recipient
from storage.engine import create_engine, create_session_pool
from storage.models import User

TOKEN = "123456:TEST-TOKEN"  # FakeBotAPI's default


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    """A bot like bot.factory.create_bot makes (HTML by default), pointed at base_url."""
    return Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


async def seed_users(
    pool: async_sessionmaker[AsyncSession],
    tg_ids: Sequence[int],
    *,
    locales: Sequence[str] = ("en",),
) -> list[Recipient]:
    """Insert users (ids 1..n in order of tg_ids) and return them as recipients."""
    async with pool() as session:
        existing = int(await session.scalar(select(func.max(User.id))) or 0)
        rows = [
            {"id": existing + i + 1, "tg_id": tg, "language": locales[i % len(locales)]}
            for i, tg in enumerate(tg_ids)
        ]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(User), rows[start : start + 2000])
        await session.commit()
    return [Recipient(r["id"], r["tg_id"], r["language"]) for r in rows]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--worker-id", default=None, help="default: host/boot/ns:pid:random")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    db = create_engine(args.db)
    bot = make_bot(args.api)
    try:
        engine = DeliveryEngine(
            bot,
            create_session_pool(db),
            rate=args.rate,
            concurrency=args.concurrency,
            worker_id=args.worker_id,
        )
        await engine.start()
        print("STARTED", flush=True)
        await engine.run_until_idle(timeout=300)
        await engine.stop()
        print("DONE", engine.stats.sent, flush=True)
    finally:
        await bot.session.close()
        await db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
