"""The "Dashboard" menu button: a web-app button in the private chat of coordinators and
admins (setChatMenuButton, per chat, in the person's language), the default button for
everyone else. Only when WEBAPP_URL is set. A failure is logged, never raised: the button
is a convenience."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.types import MenuButtonDefault, MenuButtonWebApp, WebAppInfo
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SUPPORTED_LOCALES, Settings
from bot.services.access import Level, is_service_account
from storage.repositories import dashboard as repo

log = logging.getLogger(__name__)

DASHBOARD_TEXT = __("Dashboard")
SYNC_GAP = 0.2  # seconds between two chats' buttons at start-up (5 a second)


def may_open(level: Level) -> bool:
    return level >= Level.COORDINATOR


def web_app(url: str) -> WebAppInfo:
    return WebAppInfo(url=url)


def menu_button(
    i18n: I18n, webapp_url: str, level: Level, locale: str
) -> MenuButtonWebApp | MenuButtonDefault:
    if not may_open(level):
        return MenuButtonDefault()
    with i18n.context(), i18n.use_locale(locale if locale in SUPPORTED_LOCALES else "en"):
        return MenuButtonWebApp(text=_("Dashboard"), web_app=web_app(webapp_url))


async def set_menu_button(
    bot: Bot, i18n: I18n, webapp_url: str | None, chat_id: int, level: Level, locale: str
) -> bool:
    """The person's menu button for their role: "Dashboard" (coordinators, admins) or the
    default. Nothing without WEBAPP_URL. True when Telegram took it."""
    if not webapp_url:
        return False
    try:
        await bot.set_chat_menu_button(
            chat_id=chat_id, menu_button=menu_button(i18n, webapp_url, level, locale)
        )
    except TelegramAPIError as exc:
        log.warning("could not set the menu button of chat %s: %s", chat_id, exc)
        return False
    return True


async def clear_menu_button(bot: Bot, webapp_url: str | None, chat_id: int) -> bool:
    """The default menu button (a role was lost)."""
    if not webapp_url:
        return False
    try:
        await bot.set_chat_menu_button(chat_id=chat_id, menu_button=MenuButtonDefault())
    except TelegramAPIError as exc:
        log.warning("could not reset the menu button of chat %s: %s", chat_id, exc)
        return False
    return True


async def menu_targets(
    session: AsyncSession, admin_ids: frozenset[int], default_locale: str
) -> list[tuple[int, str]]:
    """(chat id, locale) of every coordinator and of the admins who talked to the bot."""
    found: dict[int, str | None] = {}
    for tg_id, language in await repo.coordinator_chats(session):
        found.setdefault(tg_id, language)
    for tg_id, language in await repo.people_chats(session, sorted(admin_ids)):
        found.setdefault(tg_id, language)
    return [
        (tg_id, language if language in SUPPORTED_LOCALES else default_locale)
        for tg_id, language in sorted(found.items())
        if not is_service_account(tg_id)
    ]


async def sync_menu_buttons(
    bot: Bot,
    session_pool: async_sessionmaker[AsyncSession],
    i18n: I18n,
    settings: Settings,
    gap: float = SYNC_GAP,
) -> int:
    """Once at start-up: the Dashboard button for every coordinator and admin, one chat
    every ``gap`` seconds (waiting out a 429). Returns how many were set."""
    if not settings.webapp_url:
        return 0
    async with session_pool() as session:
        targets = await menu_targets(session, settings.admin_ids, settings.default_locale)
    done = 0
    for chat_id, locale in targets:
        button = menu_button(i18n, settings.webapp_url, Level.COORDINATOR, locale)
        for _attempt in range(3):
            try:
                await bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)
                done += 1
                break
            except TelegramRetryAfter as exc:  # Telegram asks to slow down: wait, try again
                await asyncio.sleep(float(exc.retry_after))
            except TelegramAPIError as exc:
                log.warning("could not set the menu button of chat %s: %s", chat_id, exc)
                break
        await asyncio.sleep(gap)
    log.info("dashboard menu buttons set for %d of %d coordinators and admins", done, len(targets))
    return done
