"""A process's heartbeat: its row in `processes`, for `prevnet status` (README.md).

    heartbeat = Heartbeat(session_pool, role="run")     # or role="worker"
    await heartbeat.start()     # the first beat, then one every `interval` seconds
    ...
    await heartbeat.stop()      # a clean stop: the row goes

A process is *alive* while its ``last_seen`` is within ``alive_after`` (3 × the interval)
of now; a row older than that is a process that died without stopping, shown as such
by `prevnet status` and pruned after a day. A database error never stops the process:
it is one log line, and the next beat tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.workers import process_id as this_process_id
from storage.engine import db_scope
from storage.models import utcnow
from storage.repositories import processes as repo

log = logging.getLogger(__name__)

INTERVAL = 10.0  # seconds between beats
ALIVE_FACTOR = 3  # alive while the last beat is within this many intervals
ALIVE_AFTER = timedelta(seconds=INTERVAL * ALIVE_FACTOR)  # what `prevnet status` assumes
PRUNE_AFTER = timedelta(days=1)  # rows of dead processes are deleted after this
PRUNE_EVERY = 3600.0  # seconds between prunes (and one at start)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


class Heartbeat:
    def __init__(
        self,
        session_pool: async_sessionmaker[AsyncSession],
        *,
        role: str,
        interval: float = INTERVAL,
        process_id: str | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.session_pool = session_pool
        self.role = role
        self.interval = interval
        self.alive_after = timedelta(seconds=interval * ALIVE_FACTOR)
        self.process_id = process_id or this_process_id()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at: datetime | None = None
        self.beats = 0  # successful beats
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._last_prune: float | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Beat once now (an error is logged, not raised), then every ``interval``."""
        if self.running:
            return
        self.started_at = self.started_at or utcnow()
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self.role}")

    async def stop(self) -> None:
        """Stop beating and delete the row (a clean stop); errors are logged."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.started_at is None:
            return
        try:
            with db_scope():
                async with asyncio.timeout(self._timeout()), self.session_pool() as session:
                    await repo.remove(session, self.process_id)
                    await session.commit()
        except Exception as exc:
            log.warning("heartbeat: could not remove this process's row (%s)", _one_line(exc))

    async def beat(self) -> bool:
        """Write ``last_seen`` (and prune now and then); False when the database failed."""
        now = utcnow()
        prune = self._last_prune is None or time.monotonic() - self._last_prune >= PRUNE_EVERY
        try:
            with db_scope():
                async with asyncio.timeout(self._timeout()), self.session_pool() as session:
                    await repo.beat(
                        session,
                        process_id=self.process_id,
                        role=self.role,
                        host=self.host,
                        pid=self.pid,
                        started_at=self.started_at or now,
                        now=now,
                    )
                    pruned = await repo.prune(session, now - PRUNE_AFTER) if prune else 0
                    await session.commit()
        except Exception as exc:
            log.warning(
                "heartbeat: could not write to the database (%s); trying again in %.0f s",
                _one_line(exc),
                self.interval,
            )
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat: the database answers again")
            self._failing = False
        if prune:
            self._last_prune = time.monotonic()
            if pruned:
                log.info("heartbeat: forgot %d processes gone for over a day", pruned)
        self.beats += 1
        return True

    def _timeout(self) -> float:
        # A beat stuck on a locked or unreachable database gives up before the next one.
        return max(self.interval, 5.0)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.beat()
