"""Role filters: the single place handlers are gated by who is acting."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.services.access import Actor, Level


class MinLevel(Filter):
    def __init__(self, level: Level) -> None:
        self.level = level

    async def __call__(self, event: TelegramObject, actor: Actor | None = None) -> bool:
        return actor is not None and actor.level >= self.level
