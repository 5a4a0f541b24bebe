"""The command menu and /help, by role and language."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __

from bot.config import SUPPORTED_LOCALES
from bot.services.access import Level
from bot.services.dashboard import set_menu_button

log = logging.getLogger(__name__)

# (command, description, lowest level that may use it). Only commands that exist are listed.
COMMANDS = (
    ("start", __("Start or open an invite"), Level.STRANGER),
    ("join", __("Join a network with a code"), Level.STRANGER),
    ("help", __("What I can do for you"), Level.STRANGER),
    ("language", __("Change the language"), Level.STRANGER),
    ("events", __("Coming meetings and trainings"), Level.MEMBER),
    ("report", __("Report an activity"), Level.MEMBER),
    ("myreports", __("My recent reports"), Level.MEMBER),
    ("digest", __("This week's digest"), Level.MEMBER),
    ("plan", __("The network's action plan"), Level.MEMBER),
    ("mydata", __("Everything stored about me"), Level.MEMBER),
    ("leave", __("Leave a network and erase my data"), Level.MEMBER),
    ("cancel", __("Stop what we are doing"), Level.STRANGER),
    ("invite", __("Make an invite link"), Level.COORDINATOR),
    ("members", __("Members of my networks"), Level.COORDINATOR),
    ("newevent", __("Plan a meeting, training or workshop"), Level.COORDINATOR),
    ("broadcast", __("Send an update to the network"), Level.COORDINATOR),
    ("broadcasts", __("Recent broadcasts and their counts"), Level.COORDINATOR),
    ("reports", __("Reports of my networks"), Level.COORDINATOR),
    ("export", __("Export reports as CSV and Excel"), Level.COORDINATOR),
    ("dashboard", __("Open the dashboard: figures, people, reports"), Level.COORDINATOR),
    ("feedback", __("What members said about the trainings"), Level.COORDINATOR),
    ("settings", __("Network settings (event reminders)"), Level.COORDINATOR),
    ("newnetwork", __("Create a network (admins)"), Level.ADMIN),
    ("audit", __("The audit log (admins)"), Level.ADMIN),
)
COMMAND_LEVEL = {name: level for name, _desc, level in COMMANDS}


def commands_for(level: Level) -> list[tuple[str, str]]:
    """(command, description) pairs for a role, described in the current locale."""
    return [(name, str(desc)) for name, desc, need in COMMANDS if level >= need]


def _menu(level: Level) -> list[BotCommand]:
    return [BotCommand(command=name, description=desc) for name, desc in commands_for(level)]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """The menu strangers see, in each language Telegram clients may ask for."""
    for locale in (None, *SUPPORTED_LOCALES):
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            await bot.set_my_commands(
                _menu(Level.STRANGER), scope=BotCommandScopeDefault(), language_code=locale
            )


async def set_chat_menu(
    bot: Bot,
    i18n: I18n,
    chat_id: int,
    level: Level,
    locale: str,
    webapp_url: str | None = None,
) -> None:
    """One person's menu: their role's commands in their chosen language, and with
    WEBAPP_URL (``webapp_url``) their menu button: "Dashboard" for coordinators and
    admins, the default one for everyone else."""
    with i18n.context(), i18n.use_locale(locale):
        try:
            await bot.set_my_commands(_menu(level), scope=BotCommandScopeChat(chat_id=chat_id))
        except TelegramAPIError as exc:  # the menu is a convenience; never fail a dialog on it
            log.warning("could not set the menu for chat %s: %s", chat_id, exc)
    await set_menu_button(bot, i18n, webapp_url, chat_id, level, locale)
