"""Last router: commands the person may not use, stray text, stale buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.callback_answer import CallbackAnswer
from bot.commands import COMMAND_LEVEL
from bot.services.access import Actor, Level

router = Router(name=__name__)


@router.message(F.text.startswith("/"))
async def command(message: Message, actor: Actor) -> None:
    name = (message.text or "/").split()[0][1:].split("@")[0].lower()
    needed = COMMAND_LEVEL.get(name)
    if needed is None:
        await message.answer(_("I do not know this command. Send /help to see what I can do."))
    elif needed == Level.ADMIN and actor.level < needed:
        await message.answer(
            _("Only the programme staff (admins) can use /{command}.").format(command=name)
        )
    elif needed == Level.COORDINATOR and actor.level < needed:
        await message.answer(_("Only coordinators can use /{command}.").format(command=name))
    elif actor.level < needed:
        await message.answer(
            _("Please join your network first: open your invite link or send /join CODE.")
        )
    else:  # pragma: no cover - every command a level allows has a handler
        await message.answer(_("Send /help to see what I can do."))


@router.message()
async def anything(message: Message, actor: Actor) -> None:
    if actor.level == Level.STRANGER:
        await message.answer(
            _("Please join your network first: open your invite link or send /join CODE.")
        )
    else:
        await message.answer(_("Send /help to see what I can do."))


@router.callback_query()
async def stale_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("This button is no longer valid.")
    callback_answer.show_alert = True
