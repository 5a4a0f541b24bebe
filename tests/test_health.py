"""GET /healthz (bot/health.py) on a real aiohttp server: 200 when the database and Redis
answer, 503 naming the one that did not, never a 500, no detail in the body."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.health import add_health_routes
from storage.engine import create_engine, create_session_pool

Pool = async_sessionmaker[AsyncSession]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(pool: Pool, redis_url: str | None, **kw: Any) -> AsyncIterator[str]:
    app = web.Application()
    add_health_routes(app, pool, redis_url, **kw)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/healthz"
    finally:
        await runner.cleanup()


async def get(url: str, method: str = "GET") -> tuple[int, Any, str]:
    async with aiohttp.ClientSession() as http, http.request(method, url) as response:
        raw = await response.text()
        body = await response.json() if method == "GET" else None
        return response.status, body, raw


async def test_ok_without_redis(pool: Pool) -> None:
    async with serving(pool, None) as url:
        status, body, _raw = await get(url)
        assert (status, body) == (200, {"status": "ok", "database": "ok", "redis": "off"})
        assert (await get(url, "HEAD"))[0] == 200


async def test_ok_with_redis(session_pool: Pool, redis_url: str) -> None:
    async with serving(session_pool, redis_url) as url:
        assert await get(url) == (
            200, {"status": "ok", "database": "ok", "redis": "ok"},
            '{"status": "ok", "database": "ok", "redis": "ok"}',
        )


async def test_redis_on_a_closed_port(session_pool: Pool) -> None:
    redis_url = f"redis://:hunter2@127.0.0.1:{_free_port()}/0"
    async with serving(session_pool, redis_url) as url:
        status, body, raw = await get(url)
    assert (status, body) == (503, {"status": "error", "database": "ok", "redis": "error"})
    assert "hunter2" not in raw and "127.0.0.1" not in raw


async def test_database_unreachable() -> None:
    engine = create_engine(f"postgresql+asyncpg://bot:hunter2@127.0.0.1:{_free_port()}/prevnet")
    try:
        async with serving(create_session_pool(engine), None) as url:
            status, body, raw = await get(url)
    finally:
        await engine.dispose()
    assert (status, body) == (503, {"status": "error", "database": "error", "redis": "off"})
    assert "hunter2" not in raw and "prevnet" not in raw


async def test_database_that_never_answers_times_out() -> None:
    """A server that accepts connections and says nothing: 503 after the timeout."""
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://bot@127.0.0.1:{port}/prevnet")
    try:
        async with serving(create_session_pool(engine), None, timeout=0.5) as url:
            started = time.monotonic()
            status, body, _raw = await get(url)
            took = time.monotonic() - started
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
        await engine.dispose()
    assert (status, body) == (503, {"status": "error", "database": "timeout", "redis": "off"})
    assert took < 2.5


async def test_both_down(session_pool: Pool) -> None:
    engine = create_engine(f"postgresql+asyncpg://x@127.0.0.1:{_free_port()}/x")
    try:
        async with serving(create_session_pool(engine), f"redis://127.0.0.1:{_free_port()}") as url:
            assert (await get(url))[:2] == (
                503, {"status": "error", "database": "error", "redis": "error"})
    finally:
        await engine.dispose()


async def test_a_disposed_engine_or_a_bad_redis_url_is_never_a_500(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    pool = create_session_pool(engine)
    async with serving(pool, "not-a-redis-url") as url:
        assert (await get(url))[:2] == (
            503, {"status": "error", "database": "ok", "redis": "error"})
        await engine.dispose()  # a disposed engine opens a new pool: still answers
        assert (await get(url))[1]["database"] == "ok"
        (tmp_path / "h.db").unlink()
        (tmp_path / "h.db").mkdir()  # the file replaced by a folder: it cannot open
        await engine.dispose()
        status, body, _raw = await get(url)
        assert (status, body["database"]) == (503, "error")
    await engine.dispose()
