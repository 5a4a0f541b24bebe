"""One-off notices to coordinators (a handful of people; broadcasts use the outbox)."""

from __future__ import annotations

from html import escape

from aiogram import Bot
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.replies import tell
from bot.services import registration
from bot.services.registration import Registration
from bot.text.labels import role_label, sector_label


async def notify_coordinators_of_join(
    bot: Bot, session: AsyncSession, i18n: I18n, result: Registration
) -> int:
    """Tell each coordinator of the network, in their language. Returns how many were told."""
    told = 0
    for coordinator in await registration.coordinators_to_tell(session, result):
        with i18n.use_locale(coordinator.language or i18n.default_locale):
            values = {
                "name": escape(result.user.display_name or ""),
                "network": escape(result.network.name),
                "sector": sector_label(result.membership.sector),
                "role": role_label(result.membership.role),
            }
            if result.pending:
                text = _("{name} ({sector}) asks to join {network} as {role}.").format(**values)
                markup = keyboards.approve(result.membership.id)
            else:
                text = _("{name} ({sector}) joined {network} as {role}.").format(**values)
                markup = None
            told += await tell(bot, coordinator.tg_id, text, markup)
    return told
