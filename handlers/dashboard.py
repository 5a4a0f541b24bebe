"""/dashboard: coordinators and admins open the dashboard (a Mini App, bot/dashboard/)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.filters import MinLevel
from bot.keyboards.dashboard import open_dashboard
from bot.services import dashboard
from bot.services.access import Actor, Level

router = Router(name=__name__)
router.message.filter(MinLevel(Level.COORDINATOR))


@router.message(Command("dashboard"))
async def dashboard_cmd(
    message: Message, actor: Actor, bot: Bot, i18n: I18n, settings: Settings
) -> None:
    url = settings.webapp_url
    if not url:
        await message.answer(
            _("The dashboard is not set up on this bot yet: the operator sets WEBAPP_URL.")
        )
        return
    await message.answer(
        _("Your dashboard: this week at a glance, people, events, trends and reports."),
        reply_markup=open_dashboard("📊 " + _("Open the dashboard"), url),
    )
    # The menu button too, for next time (set again in case it was lost).
    await dashboard.set_menu_button(bot, i18n, url, actor.tg_id, actor.level, i18n.current_locale)
