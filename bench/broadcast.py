"""Broadcast benchmark: the delivery engine against the fake Bot API in another process.

    python -m bench.broadcast --recipients 2000 --rate 30
    python -m bench.broadcast --recipients 20000 --rate 1000

Starts ``python -m bot.sandbox.telegram`` enforcing a global rate (``--server-rate``, default the
configured rate) and one message per second per chat, answering 429 past them; seeds N
users in a fresh SQLite database; enqueues one job to all of them; runs the engine until
the job is done; prints recipients, configured rate, achieved rate (the server's first to
last message), ratio, 429s received, duplicates and missing recipients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from sqlalchemy import insert

from bot.delivery import DeliveryEngine, Recipient
from storage import migrate
from storage.engine import create_engine, create_session_pool
from storage.models import User
from storage.repositories.delivery import job_counts

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-TOKEN"
FIRST_USER = 1_000_000


async def start_fake_api(
    server_rate: float | None, per_chat_rate: float | None, users: int
) -> tuple[asyncio.subprocess.Process, str]:
    args = [sys.executable, "-m", "bot.sandbox.telegram", "--port", "0", "--token", TOKEN]
    args += ["--users", str(users), "--users-start", str(FIRST_USER), "--max-calls", "0"]
    if server_rate:
        args += ["--rate", str(server_rate)]
    if per_chat_rate:
        args += ["--per-chat-rate", str(per_chat_rate)]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if not line.startswith(b"READY "):
        proc.kill()
        raise RuntimeError(f"fake Bot API did not start: {line!r}")
    return proc, line.decode().split(None, 1)[1].strip()


async def seed(pool: Any, n: int) -> list[Recipient]:
    rows = [{"id": i + 1, "tg_id": FIRST_USER + i, "language": "en"} for i in range(n)]
    async with pool() as session:
        for start in range(0, n, 5000):
            await session.execute(insert(User), rows[start : start + 5000])
        await session.commit()
    return [Recipient(r["id"], r["tg_id"], "en") for r in rows]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server_rate = args.server_rate if args.server_rate is not None else args.rate
    proc, base_url = await start_fake_api(server_rate or None, args.per_chat_rate, args.recipients)
    tmp = tempfile.TemporaryDirectory(prefix="prevnet-bench-")
    db = create_engine(f"sqlite+aiosqlite:///{tmp.name}/bench.db")
    bot = Bot(
        TOKEN,
        session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    try:
        await migrate.upgrade(db)
        pool = create_session_pool(db)
        recipients = await seed(pool, args.recipients)
        engine = DeliveryEngine(
            bot, pool, rate=args.rate, worker_id="bench", concurrency=args.concurrency
        )
        payload = {
            "method": "send_message",
            "params": {"text": "<b>Network meeting</b> moved to Thursday 17:00."},
            "buttons": [[{"text": {"en": "Understood"}, "callback_data": "ack:{delivery_id}"}]],
        }
        started = time.perf_counter()
        async with pool() as session:
            job = await engine.enqueue(
                session, kind="broadcast", payload=payload, recipients=recipients
            )
        enqueued = time.perf_counter()
        await engine.run_until_idle(timeout=args.recipients / args.rate * 3 + 120)
        finished = time.perf_counter()
        async with pool() as session:
            counts = await job_counts(session, job.id)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}/_test/stats") as resp,
        ):
            stats = (await resp.json())["result"]
    finally:
        await bot.session.close()
        await db.dispose()
        proc.terminate()
        await proc.wait()
        tmp.cleanup()
    per_chat = {int(k): v for k, v in stats["sent_per_chat"].items()}
    expected = range(FIRST_USER, FIRST_USER + args.recipients)
    duplicates = sum(max(0, per_chat.get(uid, 0) - 1) for uid in expected)
    missing = sum(1 for uid in expected if per_chat.get(uid, 0) == 0)
    span = stats["send_span_seconds"] or 0.0
    achieved = (stats["total_sent"] - 1) / span if span > 0 else float("nan")
    return {
        "recipients": args.recipients,
        "configured_rate": args.rate,
        "server_rate": server_rate,
        "concurrency": engine.concurrency,
        "achieved_rate": round(achieved, 2),
        "ratio": round(achieved / args.rate, 4),
        "wall_rate": round(args.recipients / (finished - started), 2),
        "enqueue_seconds": round(enqueued - started, 3),
        "send_seconds": round(finished - enqueued, 3),
        "server_max_in_1s": stats["max_rate_per_second"],
        "429_received": engine.retry_after_received,
        "429_server": stats["too_many_requests"],
        "sent": counts.sent,
        "failed": counts.failed,
        "duplicates": duplicates,
        "missing": missing,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__)
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=30.0, help="the engine's rate, msg/s")
    parser.add_argument(
        "--server-rate", type=float, default=None, help="429 past this (default: --rate; 0 off)"
    )
    parser.add_argument("--per-chat-rate", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
