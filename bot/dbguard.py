"""No database connection is held while the bot waits on Telegram.

A handler runs inside the update's database session (`DbSessionMiddleware`). Before any
request to Telegram leaves, `ReleaseConnectionMiddleware` (on the bot's HTTP session)
commits that session, so its connection goes back to the pool while the request and any
wait for a send slot last; the session takes a connection again on its next query. If a
connection is still held by the task at that point (a session opened elsewhere and kept
across the request), a `ConnectionHeldWarning` says where: the tests turn it into an error.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods.base import TelegramType

from storage.engine import connections_held, release_connection, update_session

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)
__all__ = ["ConnectionHeldWarning", "ReleaseConnectionMiddleware", "install", "update_session"]

class ConnectionHeldWarning(RuntimeWarning):
    """A database connection was held across a request to Telegram."""


class ReleaseConnectionMiddleware(BaseRequestMiddleware):
    """aiogram request middleware: commit the update's session before each request."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        await release_connection()
        held = connections_held()
        if held:
            name = method.__api_method__
            log.warning("%d database connection(s) held across %s", held, name)
            warnings.warn(
                f"{held} database connection(s) held across the Telegram request {name}",
                ConnectionHeldWarning,
                stacklevel=2,
            )
        return await make_request(bot, method)


def install(bot: Bot) -> None:
    """Put the middleware on the bot's session, outermost (idempotent)."""
    session_middlewares = bot.session.middleware
    if any(isinstance(m, ReleaseConnectionMiddleware) for m in session_middlewares):
        return
    session_middlewares._middlewares.insert(0, ReleaseConnectionMiddleware())
