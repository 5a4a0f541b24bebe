"""One Telegram limit for all processes (bot/delivery/shared_limit.py): two limiters on one
Redis behave as one, on real time (Redis's clock); Redis unreachable falls back to the
local limiter. Needs Redis (tests/redis_server.py starts it or skips); the last test
PostgreSQL too (tests/pg.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.delivery import DeliveryEngine
from bot.delivery.ratelimit import Priority, PriorityRateLimiter
from bot.delivery.shared_limit import (
    SharedChatSpacer,
    SharedRateLimiter,
    create_shared_limits,
    key_prefix,
)
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Delivery
from tests.delivery_worker import make_bot, seed_users
from tests.pg import fresh_database
from tests.test_ratelimit import max_in_window

Limits = tuple[SharedRateLimiter, SharedChatSpacer]


@asynccontextmanager
async def processes(url: str, n: int = 2, **kw: object) -> AsyncIterator[list[Limits]]:
    """``n`` processes' limits (each its own Redis client) for one bot."""
    kw = {"rate": 10, "per_chat_interval": 0.3, **kw}
    made = [create_shared_limits(url, 42, **kw) for _ in range(n)]  # type: ignore[arg-type]
    try:
        yield made  # type: ignore[misc]
    finally:
        for limiter, _ in made:
            await limiter.aclose()


def now() -> float:
    return time.monotonic()


async def test_two_processes_never_exceed_the_window_together(redis_url: str) -> None:
    rng = random.Random(3)
    seen: list[float] = []  # when "Telegram" counted each message: between grant and answer
    by: dict[str, int] = {"a": 0, "b": 0}

    async def send(limiter: SharedRateLimiter, name: str) -> None:
        async with limiter.slot(Priority.LOW):
            granted = now()
            await asyncio.sleep(rng.uniform(0.0, 0.08))
            seen.append(rng.uniform(granted, now()))
            by[name] += 1

    async with processes(redis_url) as ((a, _), (b, _)):
        start = now()
        await asyncio.gather(*(send(a, "a") for _ in range(15)), *(send(b, "b") for _ in range(15)))
        elapsed = now() - start
    assert by == {"a": 15, "b": 15}
    assert max_in_window(seen) <= 10
    assert 2.5 <= elapsed <= 4.5  # 30 at 10 per second, together (not 10 per second each)


async def test_replies_go_at_once_and_bulk_of_the_other_process_uses_what_is_left(
    redis_url: str,
) -> None:
    async with processes(redis_url) as ((a, _), (b, _)):
        bulk: list[float] = []

        async def send_bulk() -> None:
            async with a.slot(Priority.LOW):
                bulk.append(now())

        async def reply() -> float:
            async with b.slot(Priority.HIGH):
                return now()

        replies = await asyncio.gather(*(reply() for _ in range(12)))  # a crowd taps at once
        assert b.queued == 0  # none waited, though 12 > 10 per second
        await asyncio.gather(*(send_bulk() for _ in range(3)))
    # The replies filled the window: bulk waited until all but 9 of them had left it.
    replies.sort()
    assert all(t >= replies[2 + i] + 1.0 for i, t in enumerate(sorted(bulk)))


async def test_a_pause_set_by_one_process_stops_the_other(redis_url: str) -> None:
    async with processes(redis_url) as ((a, _), (b, _)):
        grants: list[tuple[str, float]] = []

        async def send(name: str, priority: Priority) -> None:
            async with b.slot(priority):
                grants.append((name, now()))

        start = now()
        task = a.pause(1.0)  # a's 429
        assert task is not None
        await task
        assert b.paused_until < start  # b never heard of it: Redis holds it
        await asyncio.gather(send("bulk", Priority.LOW), send("reply", Priority.HIGH))
        assert all(t >= start + 1.0 for _, t in grants)
        assert [name for name, _ in grants] == ["reply", "bulk"]
        # Caution: for a while after it the other process's replies keep to the window too.
        grants.clear()
        await asyncio.gather(*(send(f"r{i}", Priority.HIGH) for i in range(14)))
        assert max_in_window([t for _, t in grants]) <= 10
        assert grants[-1][1] - grants[0][1] >= 0.9


async def test_replies_waiting_out_a_pause_go_before_any_process_bulk(redis_url: str) -> None:
    async with processes(redis_url) as ((a, _), (b, _)):
        order: list[str] = []

        async def send(limiter: SharedRateLimiter, name: str, priority: Priority) -> None:
            async with limiter.slot(priority):
                order.append(name)

        task = a.pause(0.5)
        assert task is not None
        await task
        bulk = [asyncio.create_task(send(a, f"bulk{i}", Priority.LOW)) for i in range(4)]
        await asyncio.sleep(0.05)
        reply_a = asyncio.create_task(send(a, "reply-a", Priority.HIGH))  # after a's bulk
        replies_b = [asyncio.create_task(send(b, f"reply-b{i}", Priority.HIGH)) for i in range(5)]
        await asyncio.gather(*bulk, reply_a, *replies_b)
    assert set(order[:6]) == {"reply-a", *(f"reply-b{i}" for i in range(5))}
    assert order[6:] == [f"bulk{i}" for i in range(4)]  # in order, after them


async def test_per_chat_spacing_is_kept_across_processes(redis_url: str) -> None:
    async with processes(redis_url) as ((_, sa), (_, sb)):
        spans: list[tuple[float, float]] = []

        async def send(spacer: SharedChatSpacer, chat: int) -> None:
            await spacer.acquire(chat)
            start = now()
            await asyncio.sleep(0.05)
            end = now()
            spacer.release(chat)
            spans.append((start, end))

        await asyncio.gather(*(send(s, 7) for s in (sa, sb, sa, sb)))
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end + 0.3  # one at a time, an interval after the previous answer
        # A reply noted by one process: the other's bulk message to that chat keeps its distance.
        sa.note(8)
        noted = now()
        await asyncio.sleep(0.05)  # the note reaches Redis in the background
        await sb.acquire(8)
        assert now() >= noted + 0.3 - 0.01
        sb.release(8)
        await asyncio.sleep(0.05)
    client = Redis.from_url(redis_url)
    try:
        assert await client.keys(f"{key_prefix(42)}chat:*")  # and they expire:
        await asyncio.sleep(0.35)
        assert await client.keys(f"{key_prefix(42)}chat:*") == []
    finally:
        await client.aclose()


async def test_redis_unreachable_falls_back_to_the_local_limiter_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    caplog.set_level(logging.WARNING, "bot.delivery.shared_limit")
    limiter, spacer = create_shared_limits(f"redis://127.0.0.1:{port}/0", 42, rate=10)
    assert spacer is not None
    grants: list[float] = []

    async def send(priority: Priority, chat: int) -> None:
        await spacer.acquire(chat)
        try:
            async with limiter.slot(priority):
                grants.append(now())
        finally:
            spacer.release(chat)

    try:
        await asyncio.gather(*(send(Priority.LOW, i) for i in range(15)), send(Priority.HIGH, 99))
        limiter.pause(0.1)
        await send(Priority.HIGH, 100)
    finally:
        await limiter.aclose()
    assert len(grants) == 17
    assert max_in_window(grants) <= 10  # the same rate, kept locally
    warnings = [r for r in caplog.records if r.name == "bot.delivery.shared_limit"]
    assert len(warnings) == 1 and "Redis is not answering" in warnings[0].getMessage()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
async def test_back_to_redis_when_it_answers_again(caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    caplog.set_level(logging.WARNING, "bot.delivery.shared_limit")
    server = _redis_server(port)
    limiter, _ = create_shared_limits(url, 42, rate=50, recheck=0.2)
    client = Redis.from_url(url)
    try:
        await _wait_for(client)
        async with limiter.slot(Priority.HIGH):
            pass
        assert await client.exists(f"{key_prefix(42)}log")
        server.terminate()
        server.wait(10)
        for _ in range(3):  # replies keep going out, one warning
            async with limiter.slot(Priority.HIGH):
                pass
        assert limiter.local.granted == 3 and not limiter.link.up
        server = _redis_server(port)
        await _wait_for(client)
        for _ in range(50):
            if limiter.link.up:
                break
            await asyncio.sleep(0.05)
        async with limiter.slot(Priority.LOW):
            pass
        assert limiter.local.granted == 3  # Redis again
        assert await client.exists(f"{key_prefix(42)}tat")
    finally:
        await limiter.aclose()
        await client.aclose()
        server.terminate()
        server.wait(10)
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.delivery.shared_limit"]
    assert len(messages) == 2 and "answers again" in messages[1]


async def test_the_engine_shares_its_limits_only_with_redis(redis_url: str) -> None:
    bot = make_bot("http://127.0.0.1:1")
    try:
        alone = DeliveryEngine(bot, None, rate=20)  # type: ignore[arg-type]
        shared = DeliveryEngine(bot, None, rate=20, redis_url=redis_url)  # type: ignore[arg-type]
        assert isinstance(alone.limiter, PriorityRateLimiter)
        assert isinstance(shared.limiter, SharedRateLimiter)
        assert isinstance(shared.middleware.spacer, SharedChatSpacer)
        assert shared.limiter.rate == 20
    finally:
        await bot.session.close()


@pytest.mark.postgres
async def test_two_engines_share_one_telegram_limit(redis_url: str) -> None:
    """Two processes' engines, one database, one Redis, a Bot API that answers 429 past 30
    messages a second: each at rate=30, together still 30."""
    async with fresh_database() as db_url, FakeBotAPI(global_rate=30, max_calls=0) as api:
        db_a, db_b = create_engine(db_url), create_engine(db_url)
        await upgrade(db_a)
        pool_a, pool_b = create_session_pool(db_a), create_session_pool(db_b)
        bot_a, bot_b = make_bot(api.base_url), make_bot(api.base_url)
        engines = [
            DeliveryEngine(bot, pool, rate=30, worker_id=w, redis_url=redis_url, concurrency=10)
            for bot, pool, w in ((bot_a, pool_a, "worker-a"), (bot_b, pool_b, "worker-b"))
        ]
        try:
            tg_ids = api.add_users(150, 7_000_000)
            recipients = await seed_users(pool_a, tg_ids)
            for engine in engines:
                await engine.start()
            async with pool_a() as session:
                job = await engines[0].enqueue(
                    session, kind="broadcast", payload={"params": {"text": "hello"}},
                    recipients=recipients,
                )
            engines[1].wake()
            await asyncio.gather(*(e.run_until_idle(timeout=20) for e in engines))
            async with pool_a() as session:
                by_worker = dict(
                    (
                        await session.execute(
                            select(Delivery.claimed_by, func.count())
                            .where(Delivery.job_id == job.id, Delivery.status == "sent")
                            .group_by(Delivery.claimed_by)
                        )
                    ).all()
                )
        finally:
            for engine in engines:
                await engine.stop()
            await bot_a.session.close()
            await bot_b.session.close()
            await db_a.dispose()
            await db_b.dispose()
        stats = api.stats()
        assert [api.message_count(uid) for uid in tg_ids] == [1] * 150  # none missing, none twice
        assert set(by_worker) == {"worker-a", "worker-b"} and sum(by_worker.values()) == 150
        assert stats["too_many_requests"] <= 1
        assert stats["max_rate_per_second"] <= 30
        assert (150 - 30) / 30 * 0.95 <= stats["send_span_seconds"]  # 30 a second in all


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )


async def _wait_for(client: Redis) -> None:
    for _ in range(100):
        try:
            await client.ping()
            return
        except Exception:
            await asyncio.sleep(0.05)
    raise AssertionError("the test's redis-server did not start")
