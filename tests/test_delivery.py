"""The delivery engine against the fake Bot API (and a scripted session for rare errors)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery import (
    DeliveryEngine,
    JobProgress,
    Recipient,
    build_method,
    default_worker_id,
)
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Delivery, SendJob, User, utcnow
from storage.repositories.delivery import job_counts, record_ack
from tests.delivery_worker import make_bot, seed_users
from tests.fake_api import FakeBotAPI

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


# ------------------------------------------------------------------------------ happy path


async def test_job_is_stored_before_anything_is_sent_then_sent_once_each(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 1_200)  # more than one insert batch
    engine = make_engine()
    job = await enqueue(engine, pool, recipients + recipients[:5])  # duplicates are dropped
    assert job.status == "scheduled" and job.total == 1_200 and job.skipped == 0
    stored = await rows(pool, job.id)
    assert len(stored) == 1_200
    assert {r.status for r in stored} == {"pending"}
    assert api.stats()["total_sent"] == 0

    await engine.run_until_idle()

    stored = await rows(pool, job.id)
    assert {r.status for r in stored} == {"sent"}
    assert all(r.attempts == 1 and r.sent_at is not None for r in stored)
    for r in stored[:50]:
        (message,) = api.messages(r.chat_id)
        assert message["message_id"] == r.message_id
        assert message["text"] == "Meeting moved"
    assert all(api.message_count(r.chat_id) == 1 for r in stored)
    done = await get_job(pool, job.id)
    assert done.status == "done" and done.finished_at is not None
    async with pool() as session:
        counts = await job_counts(session, job.id)
    assert (counts.total, counts.sent, counts.pending, counts.failed) == (1_200, 1_200, 0, 0)


async def test_locales_buttons_and_acks(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 4, locales=("ar", "fr", "en", "de"))
    payload = {
        "method": "send_message",
        "params": {"text": "Hello"},
        "locales": {"ar": {"text": "مرحبا"}, "fr": {"text": "Bonjour"}, "en": {"text": "Hi"}},
        "buttons": [
            [
                {
                    "text": {"ar": "فهمت", "en": "Understood", "fr": "Compris"},
                    "callback_data": "ack:{delivery_id}",
                }
            ]
        ],
    }
    engine = make_engine()
    job = await enqueue(engine, pool, recipients, payload, progress=(FIRST, 77))
    assert (job.progress_chat_id, job.progress_message_id) == (FIRST, 77)
    await engine.run_until_idle()

    stored = await rows(pool, job.id)
    seen = []
    for r in stored:
        (message,) = api.messages(r.chat_id)
        (button,) = message["reply_markup"]["inline_keyboard"][0]
        assert button["callback_data"] == f"ack:{r.id}"
        seen.append((r.locale, message["text"], button["text"]))
    assert seen == [
        ("ar", "مرحبا", "فهمت"),
        ("fr", "Bonjour", "Compris"),
        ("en", "Hi", "Understood"),
        ("de", "Hi", "Understood"),  # no German: English
    ]

    first, second = stored[0], stored[1]
    async with pool() as session:
        assert await record_ack(session, first.id, first.chat_id)
        assert not await record_ack(session, first.id, second.chat_id)  # not theirs
        assert not await record_ack(session, 999_999, first.chat_id)
        await session.commit()
    async with pool() as session:
        acked_at = (await session.get(Delivery, first.id)).acked_at  # type: ignore[union-attr]
        assert acked_at is not None
    async with pool() as session:
        assert await record_ack(session, first.id, first.chat_id)  # again: still theirs
        await session.commit()
    async with pool() as session:
        assert (await session.get(Delivery, first.id)).acked_at == acked_at  # type: ignore[union-attr]
        assert (await session.get(Delivery, second.id)).acked_at is None  # type: ignore[union-attr]
        counts = await job_counts(session, job.id)
    assert (counts.sent, counts.acked) == (4, 1)


async def test_copy_message_records_the_new_message_id(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 3)
    update = api.send_message(recipients[0].chat_id, "what the coordinator wrote")
    payload = {
        "method": "copy_message",
        "params": {
            "from_chat_id": recipients[0].chat_id,
            "message_id": update["message"]["message_id"],
        },
    }
    engine = make_engine()
    job = await enqueue(engine, pool, recipients[1:], payload)
    await engine.run_until_idle()
    for r in await rows(pool, job.id):
        (message,) = api.messages(r.chat_id)
        assert r.status == "sent" and r.message_id == message["message_id"]
        assert message["text"] == "what the coordinator wrote"


async def test_bad_payloads_are_refused_before_anything_is_stored(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 2)
    engine = make_engine()
    bad = [
        {"method": "delete_message", "params": {"message_id": 1}},
        {"method": "send_message", "params": {}},
        {"params": {"text": "x"}, "buttons": [[{"text": "A", "callback_data": "x" * 70}]]},
        {"params": {"text": "x", "chat_id": 5}},
    ]
    for payload in bad:
        with pytest.raises(ValueError):
            await enqueue(engine, pool, recipients, payload)
    async with pool() as session:
        assert (await session.scalars(select(SendJob))).all() == []
    method = build_method({"params": {"text": "x"}}, "en", chat_id=7)
    assert method.__api_method__ == "sendMessage"


# ---------------------------------------------------------------------------------- errors


async def test_429_pauses_everything_then_the_message_goes_without_loss(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 30)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    engine = make_engine(concurrency=4)
    job = await enqueue(engine, pool, recipients)
    await engine.run_until_idle()

    stored = await rows(pool, job.id)
    assert {r.status for r in stored} == {"sent"}
    assert all(r.attempts == 1 for r in stored)  # the 429 was not a failed attempt
    assert all(api.message_count(r.chat_id) == 1 for r in stored)
    assert engine.retry_after_received == 1 and engine.limiter.pauses == 1
    calls = api.calls("sendMessage")
    refused = next(c for c in calls if not c["ok"])
    assert refused["error_code"] == 429
    later = [c["time"] for c in calls if c["ok"] and c["time"] > refused["time"]]
    # Only the few requests already on their way (concurrency 4) went during the pause.
    assert sum(t < refused["time"] + 0.9 for t in later) <= 3
    assert len(later) >= 26


async def test_429_that_outlasts_the_retries_is_requeued_not_counted(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 1)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    engine = make_engine()
    engine.middleware.max_retries = 0
    job = await enqueue(engine, pool, recipients)
    await engine.run_until_idle()
    (row,) = await rows(pool, job.id)
    assert (row.status, row.attempts) == ("sent", 1)
    assert engine.stats.requeued == 1
    assert api.message_count(row.chat_id) == 1


async def test_403_blocked_user_is_marked_and_skipped_next_time(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 6)
    api.set_blocked(recipients[1].chat_id)
    api.set_deactivated(recipients[4].chat_id)
    engine = make_engine()
    job = await enqueue(engine, pool, recipients)
    await engine.run_until_idle()

    by_user = {r.user_id: r for r in await rows(pool, job.id)}
    for i in (1, 4):
        row = by_user[recipients[i].user_id]
        assert row.status == "blocked" and row.attempts == 1
        assert "403" in (row.last_error or "")
    assert sum(r.status == "sent" for r in by_user.values()) == 4
    async with pool() as session:
        unreachable = {
            u.id: u.unreachable_since for u in (await session.scalars(select(User))).all()
        }
        counts = await job_counts(session, job.id)
    assert {uid for uid, at in unreachable.items() if at} == {
        recipients[1].user_id,
        recipients[4].user_id,
    }
    assert (counts.sent, counts.blocked, counts.skipped) == (4, 2, 0)

    second = await enqueue(engine, pool, recipients)
    assert (second.total, second.skipped) == (4, 2)
    assert {r.user_id for r in await rows(pool, second.id)} == {
        r.user_id for i, r in enumerate(recipients) if i not in (1, 4)
    }
    await engine.run_until_idle()
    async with pool() as session:
        counts = await job_counts(session, second.id)
    assert (counts.total, counts.sent, counts.blocked, counts.skipped) == (4, 4, 0, 2)
    assert len(api.calls("sendMessage")) == 6 + 4  # nothing more was tried for them


async def test_5xx_is_retried_with_backoff_then_fails_after_max_attempts(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    (person,) = await people(api, pool, 1)
    api.fail_next("sendMessage", 502, "Bad Gateway", count=3)
    engine = make_engine(max_attempts=3, backoff_base=0.05, per_chat_interval=0)
    job = await enqueue(engine, pool, [person])
    await engine.run_until_idle()
    (row,) = await rows(pool, job.id)
    assert (row.status, row.attempts) == ("failed", 3)
    assert "Bad Gateway" in (row.last_error or "")
    calls = [c["time"] for c in api.calls("sendMessage")]
    assert len(calls) == 3
    assert calls[2] - calls[1] > calls[1] - calls[0] >= 0.03  # exponential backoff
    assert (await get_job(pool, job.id)).status == "done"

    api.fail_next("sendMessage", 500, "Internal Server Error", count=1)  # then it recovers
    job = await enqueue(engine, pool, [person])
    await engine.run_until_idle()
    (row,) = await rows(pool, job.id)
    assert (row.status, row.attempts, row.message_id is not None) == ("sent", 2, True)


async def test_400_chat_not_found_fails_at_once_and_the_rest_goes(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 3)
    (ghost,) = await seed_users(pool, [424242])  # known to us, unknown to Telegram
    engine = make_engine()
    job = await enqueue(engine, pool, [*recipients, ghost])
    await engine.run_until_idle()
    by_user = {r.user_id: r for r in await rows(pool, job.id)}
    lost = by_user[ghost.user_id]
    assert (lost.status, lost.attempts) == ("failed", 1)
    assert "chat not found" in (lost.last_error or "")
    assert [c["params"]["chat_id"] for c in api.calls("sendMessage")].count("424242") == 1
    assert all(by_user[r.user_id].status == "sent" for r in recipients)


# ------------------------------------------------------------- a scripted session: rare errors


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


async def test_network_errors_and_timeouts_are_retried_other_errors_are_not(
    pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    (person,) = await seed_users(pool, [1001])
    session = ScriptedSession(["network", "timeout", "ok"])
    engine = make_engine(bot=Bot("1:X", session=session), per_chat_interval=0)
    job = await enqueue(engine, pool, [person])
    await engine.run_until_idle()
    (row,) = await rows(pool, job.id)
    # The refused connection never reached Telegram: retried, but not counted as an attempt.
    assert (row.status, row.attempts, row.message_id) == ("sent", 2, 3)
    assert len(session.requests) == 3
    assert engine.limiter.pauses == 1  # the whole engine waited for the network

    session.script.extend([(401, "Unauthorized")])  # not a temporary problem
    job = await enqueue(engine, pool, [person])
    await engine.run_until_idle()
    (row,) = await rows(pool, job.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert len(session.requests) == 4


# ------------------------------------------------------------------- progress, scheduling


async def test_progress_is_reported_then_once_at_the_end(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 60)
    api.set_blocked(recipients[0].chat_id)
    reports: list[JobProgress] = []

    async def on_progress(p: JobProgress) -> None:
        reports.append(p)

    engine = make_engine(rate=100, concurrency=4, progress_interval=0.1)
    engine.on_job_progress = on_progress
    job = await enqueue(engine, pool, recipients, progress=(1, 2))
    await engine.run_until_idle()
    assert len(reports) >= 3
    *running, last = reports
    assert not any(p.done for p in running)
    assert running[0].pending > 0
    assert [p.sent for p in running] == sorted(p.sent for p in running)
    assert last.done and last.job_id == job.id
    assert (last.total, last.sent, last.blocked, last.failed, last.pending) == (60, 59, 1, 0, 0)
    assert (last.progress_chat_id, last.progress_message_id, last.kind) == (1, 2, "broadcast")

    # The default interval (2 s) on a short job: only the final report.
    reports.clear()
    engine2 = make_engine(worker_id="w2")
    engine2.on_job_progress = on_progress
    await enqueue(engine2, pool, recipients[1:20])
    await engine2.run_until_idle()
    assert [p.done for p in reports] == [True]


async def test_a_later_job_waits_for_its_time_and_can_be_cancelled(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 3)
    engine = make_engine()
    later = await enqueue(engine, pool, recipients, due_at=utcnow() + timedelta(hours=1))
    soon_at = utcnow() + timedelta(seconds=0.3)
    soon = await enqueue(engine, pool, recipients, due_at=soon_at)
    await engine.start()
    try:
        for _ in range(500):
            if (await get_job(pool, soon.id)).status == "done":
                break
            await asyncio.sleep(0.01)
    finally:
        await engine.stop()
    sent = await rows(pool, soon.id)
    assert all(r.status == "sent" and r.sent_at and r.sent_at >= soon_at for r in sent)
    assert (await get_job(pool, later.id)).status == "scheduled"
    assert {r.status for r in await rows(pool, later.id)} == {"pending"}
    assert all(api.message_count(r.chat_id) == 1 for r in recipients)

    async with pool() as session:
        assert await engine.cancel(session, later.id)
        assert not await engine.cancel(session, later.id)
        assert not await engine.cancel(session, soon.id)  # already sent
    assert (await get_job(pool, later.id)).status == "cancelled"
    assert await rows(pool, later.id) == []


async def test_an_interactive_reply_does_not_wait_behind_a_broadcast(
    api: FakeBotAPI, bot: Bot, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 200)
    member = api.add_user(42)["id"]
    engine = make_engine(rate=20, concurrency=16)
    await enqueue(engine, pool, recipients)
    await engine.start()
    try:
        await until(lambda: api.stats()["total_sent"] >= 10)
        before = len(api.calls("sendMessage"))
        await bot.send_message(member, "your answer")  # a handler's reply: high priority
        calls = [c["params"]["chat_id"] for c in api.calls("sendMessage")]
        position = calls.index(str(member))
        # 16 bulk sends are queued in the limiter; the reply went at the next slot.
        assert position - before <= 2
    finally:
        await engine.stop()
    assert bot.session.middleware[:] == []  # stop() left the bot as start() found it


async def test_stop_releases_claims_and_another_worker_finishes_without_duplicates(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 150)
    first = make_engine(rate=100, concurrency=8)
    job = await enqueue(first, pool, recipients)
    await first.start()
    await until(lambda: api.stats()["total_sent"] >= 30)
    await first.stop()
    stored = await rows(pool, job.id)
    assert "sending" not in {r.status for r in stored}
    sent = [r for r in stored if r.status == "sent"]
    assert len(sent) == api.stats()["total_sent"] < 150
    assert all(r.attempts == 0 for r in stored if r.status == "pending")

    second = make_engine(worker_id="another")
    await second.run_until_idle()
    assert all(api.message_count(r.chat_id) == 1 for r in recipients)
    assert {r.status for r in await rows(pool, job.id)} == {"sent"}


async def test_rows_left_sending_by_a_dead_worker_are_resumed(
    api: FakeBotAPI, pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    recipients = await people(api, pool, 8)
    engine = make_engine(max_attempts=3)
    job = await enqueue(engine, pool, recipients)
    ids = [r.id for r in await rows(pool, job.id)]
    here = default_worker_id().rsplit(":", 2)[0]  # this machine and PID namespace
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    now = utcnow()
    async with pool() as session:
        await session.execute(update(SendJob).values(status="running"))
        stale = now - timedelta(minutes=5)
        plan = [
            (ids[0], "dead-worker", stale, 0),  # lease expired: resumed
            (ids[1], "dead-worker", now, 0),  # someone else's live lease: left alone
            (ids[2], "test-worker", now, 0),  # this worker's own, from before a restart
            (ids[3], "test-worker", now, 2),  # and it was the last attempt: failed
            (ids[4], f"{here}:{gone.pid}:abcdef", now, 0),  # a local process that died
            (ids[5], f"{here}:{os.getppid()}:abcdef", now, 0),  # a local one still alive
        ]
        for delivery_id, worker, at, attempts in plan:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status="sending", claimed_by=worker, claimed_at=at, attempts=attempts)
            )
        await session.commit()
    await engine.start()
    try:
        for _ in range(500):
            statuses = [r.status for r in await rows(pool, job.id)]
            if statuses.count("sending") == 2 and "pending" not in statuses:
                break
            await asyncio.sleep(0.01)
    finally:
        await engine.stop()
    by_id = {r.id: r for r in await rows(pool, job.id)}
    assert (by_id[ids[0]].status, by_id[ids[0]].attempts) == ("sent", 2)
    assert by_id[ids[1]].status == "sending"
    assert (by_id[ids[2]].status, by_id[ids[2]].attempts) == ("sent", 2)
    assert (by_id[ids[3]].status, by_id[ids[3]].attempts) == ("failed", 3)
    assert (by_id[ids[3]].last_error or "").startswith("unknown")
    assert (by_id[ids[4]].status, by_id[ids[4]].attempts) == ("sent", 2)
    assert by_id[ids[5]].status == "sending"
    assert all(by_id[i].status == "sent" for i in ids[6:])
    assert (await get_job(pool, job.id)).status == "running"  # two rows are still out


async def test_enqueue_needs_an_aware_due_time(
    pool: async_sessionmaker[AsyncSession], make_engine: Any
) -> None:
    engine = make_engine(bot=Bot("1:X", session=ScriptedSession([])))
    with pytest.raises(ValueError):
        await enqueue(engine, pool, [], due_at=datetime(2030, 1, 1))
    job = await enqueue(engine, pool, [], due_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert job.total == 0
