"""Scheduled work happens once when several processes share one PostgreSQL database: a
digest three senders start at the same moment, and a reminder that falls due while two
workers run and a third starts late."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.delivery import DeliveryEngine
from bot.i18n import create_i18n
from bot.services import digests, events
from bot.worker import Worker, create_context
from storage.engine import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import utcnow
from storage.models.digests import Digest
from storage.models.events import EventReminder
from tests.events_dialog import local
from tests.events_helpers import MEMBERS, add_people, new_event
from tests.helpers import make_network
from tests.mocked_bot import MockedBot
from tests.test_digest import NOW as DIGEST_NOW
from tests.test_digest import make_sender, saida
from tests.test_roles import pg_settings, pg_url, reminders_sent, wait_until

pytestmark = pytest.mark.postgres
__all__ = ["pg_url"]  # the fixture, imported


async def test_three_senders_at_once_send_one_digest(pg_url):
    engines = [create_engine(pg_url) for _ in range(3)]
    bots = [MockedBot() for _ in range(3)]
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        async with pools[0]() as session:
            w = await saida(session)
        senders = [
            make_sender(bot, pool, worker_id=f"process-{i}")
            for i, (bot, pool) in enumerate(zip(bots, pools, strict=True))
        ]
        results = await asyncio.gather(*(
            digests.send_network_digest(s, w.network.id, now=DIGEST_NOW, trigger="schedule")
            for s in senders
        ))
        await asyncio.gather(*(s.delivery.run_until_idle() for s in senders))
        outcomes = Counter(r.outcome for r in results)
        assert outcomes[digests.Outcome.SENT] == 1, outcomes
        async with pools[0]() as session:
            assert await session.scalar(select(func.count()).select_from(Digest)) == 1
        texts = Counter(
            r.chat_id for bot in bots for r in bot.session.requests
            if type(r).__name__ == "SendMessage"
        )
        assert sorted(texts) == [100, 101, 102]  # Sami blocked the bot
        assert set(texts.values()) == {1}, texts  # each member once, from one process
    finally:
        for e in engines:
            await e.dispose()


async def test_a_reminder_due_with_three_workers_goes_out_once(pg_url):
    """Two workers start together, the third one late, after the reminder fell due and
    while the others may be sending it: each member gets it once."""
    settings = pg_settings(pg_url)
    engines = [create_engine(pg_url) for _ in range(3)]
    bots = [MockedBot() for _ in range(3)]
    workers: list[Worker] = []
    try:
        await upgrade(engines[0])
        pools = [create_session_pool(e) for e in engines]
        async with pools[0]() as session:
            network = await make_network(session)
            await add_people(session, network)
            outbox = DeliveryEngine(bots[0], pools[0], rate=1000, per_chat_interval=0)
            await new_event(session, bots[0], outbox, create_i18n("en"), network, local(3, 17),
                            now=utcnow())
            await session.commit()
        async with pools[0]() as session:
            reminder = await session.scalar(select(EventReminder).order_by(EventReminder.due_at))
            assert reminder is not None, "no reminder planned"
            await session.execute(
                update(EventReminder).where(EventReminder.id == reminder.id)
                .values(due_at=utcnow() + timedelta(seconds=1))
            )
            await session.commit()
        for bot, pool in list(zip(bots, pools, strict=True))[:2]:
            workers.append(Worker(create_context(settings, pool, bot, create_i18n("en"))))
        await asyncio.gather(*(w.start() for w in workers))
        await asyncio.sleep(1.2)  # due now
        late = Worker(create_context(settings, pools[2], bots[2], create_i18n("en")))
        workers.append(late)
        await late.start()

        members = {tg for tg, *_rest in MEMBERS}

        def everyone() -> bool:
            return {r.chat_id for b in bots for r in reminders_sent(b)} == members

        await wait_until(everyone, timeout=events.TICK_SECONDS + 10)
        await asyncio.sleep(events.TICK_SECONDS + 1)  # one more tick in each: no repeat
        sent = Counter(r.chat_id for b in bots for r in reminders_sent(b))
        assert set(sent) == members and set(sent.values()) == {1}, sent
    finally:
        for w in workers:
            await w.stop()
        for e in engines:
            await e.dispose()
