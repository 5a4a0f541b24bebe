"""Redis for tests: start the local server if it is down, or skip with the reason.

Each test gets a database number of its own (`fresh_redis`), flushed before and after,
so tests running at the same time never see each other's keys."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

REDIS_HOST = os.environ.get("PREVNET_TEST_REDIS_HOST", "127.0.0.1")
REDIS_BASE = f"redis://{REDIS_HOST}:6379"


def _databases() -> range:
    """Databases 8..15 rotate between the tests of one run; under pytest-xdist each worker
    takes its own share (two workers: gw0 8..11, gw1 12..15), so they never share one.
    Past eight workers, workers share a database again (the suite is planned for two)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not worker.startswith("gw") or count < 2:
        return range(8, 16)
    size = max(1, 8 // count)  # 4, 2 or 1: always divides 8, so a share never passes 15
    start = 8 + (int(worker[2:]) * size) % 8
    return range(start, start + size)


_DBS = itertools.cycle(_databases())


async def _ping(url: str = REDIS_BASE) -> str | None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()


async def require_redis() -> None:
    problem = await _ping()
    if problem is None:
        return
    if shutil.which("redis-server"):
        await asyncio.to_thread(
            subprocess.run,
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
             "--save", "", "--appendonly", "no"],
            capture_output=True, timeout=30,
        )
        for _ in range(20):
            problem = await _ping()
            if problem is None:
                return
            await asyncio.sleep(0.25)
    pytest.skip(f"Redis is not reachable at {REDIS_BASE} and could not be started: {problem}")


@asynccontextmanager
async def fresh_redis() -> AsyncIterator[str]:
    """An empty Redis database; yields its URL and empties it afterwards."""
    from redis.asyncio import Redis

    await require_redis()
    url = f"{REDIS_BASE}/{next(_DBS)}"
    client = Redis.from_url(url)
    try:
        await client.flushdb()
        yield url
    finally:
        await client.flushdb()
        await client.aclose()
