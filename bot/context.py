"""`AppContext`: what scheduled jobs need, handed to each feature's `setup_jobs`.

A leaf module: the factory builds it, the services' job setups take it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings

if TYPE_CHECKING:
    from bot.delivery import DeliveryEngine


@dataclass
class AppContext:
    bot: Bot
    session_pool: async_sessionmaker[AsyncSession]
    settings: Settings
    i18n: I18n
    scheduler: AsyncIOScheduler
    delivery: DeliveryEngine


JobSetup = Callable[[AppContext], Any]
