"""With REDIS_URL set, dialog state lives in Redis (several bot processes)."""

from __future__ import annotations

from aiogram.fsm.storage.redis import RedisStorage

from bot.factory import create_dispatcher, create_fsm_storage
from tests.helpers import make_invite, make_network
from tests.people import Person, buttons


async def test_dialog_state_in_redis(redis_url, settings, session_pool, session, bot):
    settings = settings.model_copy(update={"redis_url": redis_url})
    storage = create_fsm_storage(settings, session_pool)
    assert isinstance(storage, RedisStorage)
    network = await make_network(session)
    invite = await make_invite(session, network.id)
    first = Person(create_dispatcher(settings, session_pool, bot, storage=storage), bot, 555)
    await first.send(f"/start {invite.code}")
    await first.tap("✓ English")
    # another process (another dispatcher, another storage client) carries on
    other_storage = create_fsm_storage(settings, session_pool)
    second = Person(
        create_dispatcher(settings, session_pool, bot, storage=other_storage), bot, 555
    )
    out = await second.send("Rana")
    assert "sec:teacher" in [b[1] for b in buttons(out)]
    await second.send("/cancel")
    await storage.close()
    await other_storage.close()
