"""Scale-out benchmark: one `prevnet run` and N `prevnet worker` on PostgreSQL and Redis.

    python -m bench.scaleout                      # 3 workers, 3,000 members, kill one
    python -m bench.scaleout --workers 2 --members 1000 --no-kill

Starts the fake Bot API (``python -m bot.sandbox.telegram``) enforcing ``--limit`` messages per
second for the whole bot and one per second per chat (429 past them), a fresh PostgreSQL
database and an empty Redis database; starts every process at once (so the migrations'
advisory lock is exercised), seeds the members, queues one broadcast to all of them, and
SIGKILLs one worker when about half has gone out. Prints: delivered, missing, duplicates,
the achieved rate of all the processes together and its ratio to the limit, the 429s the
server gave, how many rows the dead worker held and how long the survivors took to take
them over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bench.broadcast import FIRST_USER, TOKEN, start_fake_api
from storage.engine import create_engine, create_session_pool
from storage.models import Delivery, SendJob, User
from tests.pg import fresh_database
from tests.redis_server import fresh_redis

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = {
    "method": "send_message",
    "params": {"text": "<b>Network meeting</b> moved to Thursday 17:00."},
    "buttons": [[{"text": {"en": "Understood"}, "callback_data": "ack:{delivery_id}"}]],
}


def prevnet() -> list[str]:
    script = Path(sys.executable).parent / "prevnet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Proc:
    def __init__(self, role: str, index: int, env: dict[str, str], logs: Path) -> None:
        self.role, self.index, self.env = role, index, env
        self.log_path = logs / f"{role}-{index}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            *prevnet(), self.role, cwd=ROOT, env=self.env, stdout=log, stderr=log
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()


async def stats(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/_test/stats") as resp:
        return dict((await resp.json())["result"])


async def wait_until(check: Any, timeout: float, what: str, step: float = 0.2) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    api, base = await start_fake_api(args.limit, 1.0, args.members)
    logs = Path(tempfile.mkdtemp(prefix="prevnet-scaleout-"))
    procs: list[Proc] = []
    result: dict[str, Any] = {}
    try:
        async with fresh_database() as db_url, fresh_redis() as redis_url:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE"))},
                "PYTHONPATH": str(ROOT),
                "BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": base,
                "DATABASE_URL": db_url,
                "REDIS_URL": redis_url,
                "BROADCAST_RATE": str(args.rate),
                "LOG_LEVEL": "INFO",
            }
            procs = [Proc("run", 0, env, logs)]
            procs += [Proc("worker", i, env, logs) for i in range(args.workers)]
            await asyncio.gather(*(p.start() for p in procs))  # all at once: one migration

            def up(p: Proc) -> bool:
                return "delivery engine" in p.log() and " started" in p.log()

            async def all_up() -> bool:
                for p in procs:
                    if p.process is not None and p.process.returncode is not None:
                        raise RuntimeError(f"{p.role}-{p.index} exited:\n{p.log()[-3000:]}")
                return all(up(p) for p in procs)

            startup = await wait_until(all_up, 90, "every process to start")
            db = create_engine(db_url)
            pool = create_session_pool(db)
            try:
                result = await _broadcast(args, base, pool, procs)
            finally:
                await db.dispose()
            result["startup_seconds"] = round(startup, 2)
            result["processes"] = f"1 run + {args.workers} worker"
            exits = await asyncio.gather(*(p.stop() for p in procs))
            result["exit_codes"] = exits
            tracebacks = sum(p.log().count("Traceback") for p in procs)
            result["tracebacks_in_logs"] = tracebacks
    finally:
        for p in procs:
            if p.process is not None and p.process.returncode is None:
                p.process.kill()
        api.terminate()
        await api.wait()
    result["logs"] = str(logs)
    return result


async def _broadcast(
    args: argparse.Namespace, base: str, pool: Any, procs: list[Proc]
) -> dict[str, Any]:
    n = args.members
    rows = [{"id": i + 1, "tg_id": FIRST_USER + i, "language": "en"} for i in range(n)]
    async with pool() as session:
        for start in range(0, n, 5000):
            await session.execute(insert(User), rows[start : start + 5000])
        await session.commit()
    # Queued as a coordinator's broadcast is: a job and its rows (bot/delivery/engine.py).
    from bot.delivery import DeliveryEngine, Recipient

    class _NoBot:
        session = None

    queuer = DeliveryEngine(_NoBot(), pool, rate=args.rate)  # type: ignore[arg-type]
    recipients = [Recipient(r["id"], r["tg_id"], "en") for r in rows]
    async with aiohttp.ClientSession() as http:
        await http.post(f"{base}/_test/reset_stats")
        async with pool() as session:
            job = await queuer.enqueue(session, kind="broadcast", payload=PAYLOAD,
                                       recipients=recipients)
        started = time.perf_counter()
        victim = procs[1] if args.kill and len(procs) > 1 else None
        held = 0
        takeover = None
        if victim is not None:
            async def half() -> bool:
                return int((await stats(http, base))["total_sent"]) >= n // 2

            await wait_until(half, n / args.limit * 4 + 60, "half of the broadcast")
            marker = f":{victim.pid}:"
            async with pool() as session:
                held = await _held(session, marker)
            assert victim.process is not None
            victim.process.kill()
            await victim.process.wait()
            killed_at = time.perf_counter()

            async def taken_over() -> bool:
                async with pool() as session:
                    return await _held(session, marker) == 0

            await wait_until(taken_over, 180, "the dead worker's rows to be taken over")
            takeover = time.perf_counter() - killed_at

        async def done() -> bool:
            async with pool() as session:
                left = await session.scalar(
                    select(func.count()).select_from(Delivery).where(
                        Delivery.job_id == job.id, Delivery.status.in_(("pending", "sending"))
                    )
                )
            return left == 0

        await wait_until(done, n / args.limit * 4 + 120, "the broadcast to finish")
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.5)  # answers still on their way
        s = await stats(http, base)
    async with pool() as session:
        status = await session.scalar(select(SendJob.status).where(SendJob.id == job.id))
        failed = await session.scalar(
            select(func.count()).select_from(Delivery).where(
                Delivery.job_id == job.id, Delivery.status == "failed"
            )
        )
    per_chat = {int(k): int(v) for k, v in s["sent_per_chat"].items()}
    expected = range(FIRST_USER, FIRST_USER + n)
    span = float(s["send_span_seconds"] or 0.0)
    achieved = (int(s["total_sent"]) - 1) / span if span > 0 else float("nan")
    return {
        "members": n,
        "limit_msg_per_s": args.limit,
        "configured_rate": args.rate,
        "delivered": sum(1 for uid in expected if per_chat.get(uid, 0) > 0),
        "missing": sum(1 for uid in expected if per_chat.get(uid, 0) == 0),
        "duplicates": sum(max(0, per_chat.get(uid, 0) - 1) for uid in expected),
        "failed_rows": failed,
        "job_status": str(status),
        "achieved_rate": round(achieved, 2),
        "ratio_to_limit": round(achieved / args.limit, 4),
        "server_max_in_1s": s["max_rate_per_second"],
        "429_server": s["too_many_requests"],
        "killed_worker_held_rows": held if victim else None,
        "takeover_seconds": round(takeover, 2) if takeover is not None else None,
        "broadcast_seconds": round(elapsed, 2),
    }


async def _held(session: Any, marker: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Delivery).where(
                Delivery.status == "sending", Delivery.claimed_by.contains(marker)
            )
        )
        or 0
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--limit", type=float, default=30.0, help="the fake's limit, msg/s")
    parser.add_argument("--rate", type=float, default=30.0, help="BROADCAST_RATE of the bot")
    parser.add_argument("--no-kill", dest="kill", action="store_false")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
