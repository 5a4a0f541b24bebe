"""The delivery engine's per-recipient overrides (Recipient.params, deliveries.params),
which carry each member's own digest text."""

from __future__ import annotations

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import select

from bot.delivery import DeliveryEngine, Recipient, build_method
from storage.models import Delivery, User


async def _users(session, n: int) -> list[User]:  # type: ignore[no-untyped-def]
    users = [User(tg_id=700 + i, language="en") for i in range(n)]
    session.add_all(users)
    await session.commit()
    return users


async def test_recipient_params_are_merged_over_the_locale_text(session, session_pool, bot):
    a, b, c = await _users(session, 3)
    engine = DeliveryEngine(bot, session_pool, rate=1000, per_chat_interval=0)
    payload = {
        "method": "send_message",
        "params": {"text": "hello", "protect_content": True},
        "locales": {"en": {"text": "hello"}, "fr": {"text": "bonjour"}},
        "buttons": [[{"text": {"en": "Open", "fr": "Ouvrir"}, "callback_data": "x:{delivery_id}"}]],
    }
    await engine.enqueue(
        session,
        kind="digest",
        payload=payload,
        recipients=[
            Recipient(a.id, a.tg_id, "en", params={"text": "<b>your</b> own text"}),
            Recipient(b.id, b.tg_id, "fr"),
            Recipient(c.id, c.tg_id, "fr", params={"text": "le tien"}),
        ],
    )
    rows = (await session.scalars(select(Delivery).order_by(Delivery.user_id))).all()
    assert [r.params for r in rows] == [{"text": "<b>your</b> own text"}, None, {"text": "le tien"}]
    await engine.run_until_idle()
    sent = {r.chat_id: r for r in bot.take_requests() if isinstance(r, SendMessage)}
    assert sent[a.tg_id].text == "<b>your</b> own text"
    assert sent[b.tg_id].text == "bonjour"
    assert sent[c.tg_id].text == "le tien"
    for request in sent.values():  # the rest of the payload still applies
        assert request.protect_content is True
        (button,) = request.reply_markup.inline_keyboard[0]
        assert button.callback_data.startswith("x:")
    assert sent[c.tg_id].reply_markup.inline_keyboard[0][0].text == "Ouvrir"


async def test_recipient_params_may_not_set_the_chat_or_the_markup(session, session_pool, bot):
    (a,) = await _users(session, 1)
    engine = DeliveryEngine(bot, session_pool, rate=1000)
    payload = {"method": "send_message", "params": {"text": "hi"}}
    for bad in ({"chat_id": 1}, {"reply_markup": None}):
        with pytest.raises(ValueError):
            await engine.enqueue(session, kind="digest", payload=payload,
                                 recipients=[Recipient(a.id, a.tg_id, "en", params=bad)])
    method = build_method(payload, "en", 5, params={"text": "mine"})
    assert method.text == "mine"  # type: ignore[attr-defined]


async def test_migration_0006_goes_down_and_up_again(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    from storage.engine import create_engine
    from storage.migrate import alembic_config, upgrade

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")

    def downgrade(connection) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0005")

    def shape(connection) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
        found = inspect(connection)
        return set(found.get_table_names()), {c["name"] for c in found.get_columns("deliveries")}

    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
            tables, columns = await conn.run_sync(shape)
        assert "digests" not in tables and "digest_settings" not in tables
        assert "params" not in columns
        await upgrade(engine)
        async with engine.connect() as conn:
            tables, columns = await conn.run_sync(shape)
        assert {"digests", "digest_settings"} <= tables and "params" in columns
    finally:
        await engine.dispose()
