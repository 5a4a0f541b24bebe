"""/mydata and /leave."""

from __future__ import annotations

import json
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import LeaveCb, PickNetCb
from bot.commands import set_chat_menu
from bot.config import Settings
from bot.filters import MinLevel
from bot.replies import say
from bot.services import networks, registration
from bot.services.access import Actor, Level

router = Router(name=__name__)


@router.message(Command("mydata"))
async def mydata(message: Message, session: AsyncSession, actor: Actor) -> None:
    if actor.user is None:
        await message.answer(_("I store nothing about you."))
        return
    data = await registration.export_data(session, actor.user)
    body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await message.answer_document(
        BufferedInputFile(body, filename="prevnet-my-data.json"),
        caption=_("Everything stored about you, as a JSON file."),
    )


@router.message(Command("leave"), MinLevel(Level.MEMBER))
async def leave(message: Message, actor: Actor) -> None:
    options = networks.joined(actor)
    if not options:
        await message.answer(_("You are not a member of any network."))
    elif len(options) == 1:
        await _confirm(message, options[0].id, options[0].name)
    else:
        await message.answer(
            _("Which network do you want to leave?"),
            reply_markup=keyboards.pick_network("leave", options),
        )


@router.callback_query(PickNetCb.filter(F.purpose == "leave"), MinLevel(Level.MEMBER))
async def picked(query: CallbackQuery, callback_data: PickNetCb, actor: Actor) -> None:
    network = next((n for n in networks.joined(actor) if n.id == callback_data.network_id), None)
    if network is None:
        await say(query, _("You are not a member of this network."))
        return
    await _confirm(query, network.id, network.name)


async def _confirm(event: Message | CallbackQuery, network_id: int, name: str) -> None:
    await say(
        event,
        _(
            "Leave <b>{network}</b>? If it is your last network, your name, language and "
            "answers are erased; activity reports stay, without your name, for the statistics."
        ).format(network=escape(name)),
        reply_markup=keyboards.confirm_leave(network_id),
    )


# answered first: leaving erases data and changes the menu
@router.callback_query(
    LeaveCb.filter(), MinLevel(Level.MEMBER), flags={"callback_answer": {"pre": True}}
)
async def confirmed(
    query: CallbackQuery,
    callback_data: LeaveCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
    settings: Settings,
) -> None:
    if not callback_data.ok:
        await say(query, _("Good, you stay."))
        return
    network = next((n for n in networks.joined(actor) if n.id == callback_data.network_id), None)
    if network is None:
        await say(query, _("You are not a member of this network."))
        return
    erased = await registration.leave(session, actor, network.id)
    await state.clear()
    if erased:
        text = _("You left {network}. Your personal data has been erased. Goodbye!")
        level = Level.ADMIN if actor.is_admin else Level.STRANGER
    else:
        text = _("You left {network}. You are still a member of your other networks.")
        remaining = [m for m in actor.memberships if m.network_id != network.id]
        coordinates = any(m.role == "coordinator" for m in remaining)
        level = Level.COORDINATOR if coordinates else Level.MEMBER
    await say(query, text.format(network=escape(network.name)))
    await set_chat_menu(bot, i18n, actor.tg_id, level, i18n.current_locale, settings.webapp_url)
