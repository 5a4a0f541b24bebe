"""Outer middlewares on every update: de-duplication, DB session, the acting person."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.ledger import UpdateLedger
from bot.services.access import Actor
from storage.engine import db_scope, release_connection, update_session
from storage.repositories import users

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    """Each update_id once (bot/ledger.py), then one database session per update, in
    data["session"]. The update_id is committed before any handler runs, so an update that
    long polling delivers again after a restart is skipped, even if its handler failed.
    The session is committed before each request to Telegram (bot/dbguard.py), so its
    connection is back in the pool while the bot waits on the network.
    """

    def __init__(self, session_pool: async_sessionmaker[AsyncSession]) -> None:
        self.session_pool = session_pool
        self.ledger = UpdateLedger(session_pool)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if not await self.ledger.claim(event.update_id):
            log.info("update %s already handled; skipped", event.update_id)
            return None
        async with self.session_pool() as session:
            data["session"] = session
            with db_scope(), update_session(session):
                result = await handler(event, data)
            await session.commit()
            return result


class ActorMiddleware(BaseMiddleware):
    """Loads who is acting (no writes, except clearing a stale 'unreachable' mark)."""

    def __init__(self, settings: Settings) -> None:
        self.admin_ids = settings.admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is None:
            return await handler(event, data)
        session: AsyncSession = data["session"]
        user = await users.get_by_tg_id(session, tg_user.id)
        blocking = isinstance(event, Update) and event.my_chat_member is not None
        chat = data.get("event_chat")
        private = chat is None or chat.type == "private"  # a word in a group says nothing
        if user is not None and user.unreachable_since is not None and private and not blocking:
            # They wrote to us, so they have unblocked the bot.
            await users.clear_unreachable(session, user.id)
            user.unreachable_since = None
        await release_connection()  # the handler takes a connection when it needs one
        data["actor"] = Actor.build(tg_user.id, user, self.admin_ids)
        return await handler(event, data)
