"""Reports settings of a network (nudges, how far back, weekend)."""

from __future__ import annotations

from html import escape

from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callback_answer import CallbackAnswer
from bot.callbacks import (
    RepSetCb,
)
from bot.keyboards import reports as kb
from bot.replies import say
from bot.services import networks
from bot.services import reports as service
from bot.services.access import Actor
from handlers.reports.states import coordinators
from storage.models import utcnow


@coordinators.callback_query(RepSetCb.filter())
async def report_settings(
    query: CallbackQuery,
    callback_data: RepSetCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
    i18n: I18n,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    if callback_data.key == "show":
        settings = await service.get_settings(session, network.id)
    else:
        try:
            settings = await service.change_settings(
                session, actor, network.id, callback_data.key, callback_data.value, utcnow()
            )
        except ValueError:
            return
        callback_answer.text = _("Saved.")
        await callback_answer.now()  # the toast first, as the settings are shown again
    locale = i18n.current_locale
    weekend = service.day_names(service.weekend_days(network, settings.weekend), locale)
    if settings.nudge_enabled:
        state = _(
            "Reminders are <b>on</b>: members who have not reported for {n} day get a "
            "friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            "Reminders are <b>on</b>: members who have not reported for {n} days get a "
            "friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            settings.nudge_days,
        )
    else:
        state = _(
            "Reminders are <b>off</b>. When on, members who have not reported for {n} day "
            "get a friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            "Reminders are <b>off</b>. When on, members who have not reported for {n} days "
            "get a friendly reminder, between {start}:00 and {end}:00, not on {weekend}.",
            settings.nudge_days,
        )
    text = "\n\n".join(
        [
            _("Report settings of <b>{network}</b>").format(network=escape(network.name)),
            state.format(
                n=service.fmt_number(settings.nudge_days, locale),
                start=service.NUDGE_HOURS[0],
                end=service.NUDGE_HOURS[1],
                weekend=weekend,
            ),
            _(
                "Members may date a report up to {n} day back.",
                "Members may date a report up to {n} days back.",
                settings.max_age_days,
            ).format(n=service.fmt_number(settings.max_age_days, locale)),
        ]
    )
    await say(query, text, reply_markup=kb.report_settings(settings, locale))
