"""`GET /healthz` for load balancers and orchestrators (README.md, "Health check").

    add_health_routes(app, session_pool, settings.redis_url)

200 ``{"status": "ok", "database": "ok", "redis": "ok"}`` when the database answers
``SELECT 1`` and Redis answers PING (``"redis": "off"`` when no REDIS_URL is set); 503
with ``"error"`` or ``"timeout"`` against the one that did not answer within ``timeout``
seconds. Both are asked at once. The body never carries a message, a URL or any data,
and nothing raised by a check becomes a 500. Standalone: any aiohttp application (the
webhook's, a worker's) can serve it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import db_scope

log = logging.getLogger(__name__)

PATH = "/healthz"
TIMEOUT = 2.0  # seconds each check may take
OK, ERROR, TIMEOUT_STATE, OFF = "ok", "error", "timeout", "off"


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


async def check_database(
    session_pool: async_sessionmaker[AsyncSession], timeout: float = TIMEOUT
) -> str:
    """``ok``, ``timeout`` or ``error``: a ``SELECT 1`` through the bot's own pool (so a
    pool exhausted by stuck connections shows too)."""
    try:
        with db_scope():
            async with asyncio.timeout(timeout), session_pool() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return TIMEOUT_STATE
    except Exception as exc:
        log.debug("health: database: %s", _one_line(exc))
        return ERROR
    return OK


async def check_redis(redis_url: str | None, timeout: float = TIMEOUT) -> str:
    """``off`` without a URL, else ``ok``, ``timeout`` or ``error`` for a PING on a
    connection of its own."""
    if not redis_url:
        return OFF
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client: Any = None
    try:
        async with asyncio.timeout(timeout):
            client = Redis.from_url(  # one try: the prober asks again soon enough
                redis_url,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            await client.ping()
    except TimeoutError:
        return TIMEOUT_STATE
    except Exception as exc:
        log.debug("health: redis: %s", _one_line(exc))
        return ERROR
    finally:
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:
                log.debug("health: closing the redis client: %s", _one_line(exc))
    return OK


def add_health_routes(
    app: web.Application,
    session_pool: async_sessionmaker[AsyncSession],
    redis_url: str | None,
    *,
    timeout: float = TIMEOUT,
    path: str = PATH,
) -> None:
    """Serve ``GET path`` (and HEAD) on ``app``: see the module docstring."""
    last: dict[str, str] = {}

    async def healthz(request: web.Request) -> web.Response:
        try:
            database, redis = await asyncio.gather(
                check_database(session_pool, timeout), check_redis(redis_url, timeout)
            )
        except Exception as exc:  # never a 500
            log.warning("health: the check itself failed (%s)", _one_line(exc))
            database, redis = ERROR, (ERROR if redis_url else OFF)
        healthy = database == OK and redis in (OK, OFF)
        state = {"database": database, "redis": redis}
        if state != last:  # one line per change, not one per probe
            if healthy:
                if last:
                    log.info("health: ok again (database %s, redis %s)", database, redis)
            else:
                log.warning("health: failing (database %s, redis %s)", database, redis)
            last.clear()
            last.update(state)
        body = {"status": OK if healthy else ERROR, **state}
        return web.json_response(
            body, status=200 if healthy else 503, headers={"Cache-Control": "no-store"}
        )

    app.router.add_get(path, healthz)
