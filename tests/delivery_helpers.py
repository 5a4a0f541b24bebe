"""Fixtures and helpers shared by tests/test_delivery*.py against the fake Bot API: a
migrated SQLite database, the fake, a Bot on it, a DeliveryEngine factory, people and jobs,
and a scripted session for rare errors.

The test modules bind the fixtures (``db, pool, ... = delivery_helpers.db, ...``) so that
pytest finds them there (and so ``pool`` is this one, not conftest.py's).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine, Recipient
from bot.sandbox.telegram import FakeBotAPI
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Delivery, SendJob
from tests.delivery_worker import make_bot, seed_users

FIRST = 5_000_000
TEXT = {"method": "send_message", "params": {"text": "Meeting <b>moved</b>"}}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def pool(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_pool(db)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = make_bot(api.base_url, api.token)
    yield bot
    await bot.session.close()


@pytest.fixture
def make_engine(bot: Bot, pool: async_sessionmaker[AsyncSession]) -> Callable[..., DeliveryEngine]:
    def make(**kw: Any) -> DeliveryEngine:
        kw.setdefault("rate", 1000)
        kw.setdefault("backoff_base", 0.01)
        kw.setdefault("worker_id", "test-worker")
        return DeliveryEngine(kw.pop("bot", bot), pool, **kw)

    return make


async def people(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], n: int, **kw: Any
) -> list[Recipient]:
    start = FIRST + len(api.user_ids)
    return await seed_users(pool, api.add_users(n, start), **kw)


async def rows(pool: async_sessionmaker[AsyncSession], job_id: int) -> list[Delivery]:
    async with pool() as session:
        result = await session.scalars(
            select(Delivery).where(Delivery.job_id == job_id).order_by(Delivery.id)
        )
        return list(result)


async def get_job(pool: async_sessionmaker[AsyncSession], job_id: int) -> SendJob:
    async with pool() as session:
        job = await session.get(SendJob, job_id)
        assert job is not None
        return job


async def enqueue(
    engine: DeliveryEngine,
    pool: async_sessionmaker[AsyncSession],
    recipients: list[Recipient],
    payload: dict[str, Any] = TEXT,
    **kw: Any,
) -> SendJob:
    async with pool() as session:
        return await engine.enqueue(
            session, kind=kw.pop("kind", "broadcast"), payload=payload, recipients=recipients, **kw
        )


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        for _ in iter(int, 1):  # forever, until the timeout
            if condition():
                return
            await asyncio.sleep(0.005)


class ScriptedSession(BaseSession):
    """Answers from a script: "ok", "network", "timeout", or (status, description)."""

    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = deque(script)
        self.requests: list[TelegramMethod[Any]] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        step = self.script.popleft() if self.script else "ok"
        if step == "network":
            raise TelegramNetworkError(method=method, message="ClientConnectorError: refused")
        if step == "timeout":
            raise TimeoutError()
        if step == "ok":
            chat = getattr(method, "chat_id", 0)
            body = {
                "ok": True,
                "result": {
                    "message_id": len(self.requests),
                    "date": 0,
                    "chat": {"id": chat, "type": "private"},
                    "text": "x",
                },
            }
            return self.check_response(bot, method, 200, json.dumps(body)).result  # type: ignore[return-value]
        status, description = step
        body = {"ok": False, "error_code": status, "description": description}
        return self.check_response(bot, method, status, json.dumps(body)).result  # type: ignore[return-value]

    async def close(self) -> None:
        return None

    async def stream_content(  # pragma: no cover - not used
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""
