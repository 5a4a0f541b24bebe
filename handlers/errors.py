"""Errors: a refusal for AccessDenied, an apology and a log line for anything else."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.callback_answer import answered_early
from bot.i18n import N_, pick_locale
from bot.services import profile
from bot.services.access import AccessDenied

router = Router(name=__name__)
log = logging.getLogger("prevnet.errors")


async def _reply(event: ErrorEvent, message: str, data: dict[str, Any]) -> None:
    """Answer in the person's language: the i18n context of the failed handler is gone."""
    update = event.update
    i18n: I18n = data["i18n"]
    tg_user = data.get("event_from_user")
    stored = None
    if tg_user is not None:
        try:
            stored = await profile.stored_language(data["session_pool"], tg_user.id)
        except Exception:  # the database may be what failed
            log.warning("could not read the language of user %s", tg_user.id)
    with i18n.context(), i18n.use_locale(pick_locale(stored, tg_user, i18n.default_locale)):
        text = _(message)
    query = update.callback_query
    try:
        if query is not None and not answered_early(query):
            await query.answer(text, show_alert=True)  # never answered (bot/callback_answer.py)
        elif query is not None:
            await data["bot"].send_message(query.from_user.id, text)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception:  # the apology itself failed (network, blocked): only log
        log.exception("could not tell the user about an error in update %s", update.update_id)


@router.errors(ExceptionTypeFilter(AccessDenied))
async def denied(event: ErrorEvent, **data: Any) -> None:
    log.warning("update %s refused: %s", event.update.update_id, event.exception)
    await _reply(event, N_("Sorry, you are not allowed to do that."), data)


@router.errors(ExceptionTypeFilter(TelegramForbiddenError))
async def blocked(event: ErrorEvent, **data: Any) -> None:
    """They blocked the bot (or deleted their account) while we answered: nobody to tell."""
    actor = data.get("actor")
    log.warning("update %s: the person has blocked the bot: %s", event.update.update_id,
                event.exception)
    session_pool = data.get("session_pool")
    if actor is not None and session_pool is not None:
        await profile.mark_blocked(session_pool, actor)


@router.errors()
async def crashed(event: ErrorEvent, **data: Any) -> None:
    update = event.update
    user = update.event.from_user if hasattr(update.event, "from_user") else None
    log.error(
        "error handling update %s (%s) from user %s: %r",
        update.update_id,
        update.event_type,
        user.id if user else None,
        event.exception,
        exc_info=event.exception,
    )
    await _reply(event, N_("Sorry, something went wrong on my side. Please try again."), data)
