"""The delivery engine against the fake Bot API (and a scripted session for rare errors):
the happy path and errors. Progress and scheduling: test_delivery_progress.py."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import build_method
from bot.sandbox.telegram import FakeBotAPI
from storage.models import Delivery, SendJob, User
from storage.repositories.delivery import job_counts, record_ack
from tests import delivery_helpers
from tests.delivery_helpers import FIRST, ScriptedSession, enqueue, get_job, people, rows
from tests.delivery_worker import seed_users

# The fixtures of tests/delivery_helpers.py (a migrated SQLite database and its pool, the fake
# Bot API, a Bot on it, a DeliveryEngine factory), bound here for pytest to find.
db, pool, api, bot, make_engine = (
    delivery_helpers.db,
    delivery_helpers.pool,
    delivery_helpers.api,
    delivery_helpers.bot,
    delivery_helpers.make_engine,
)


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
