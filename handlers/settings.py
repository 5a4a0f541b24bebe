"""/settings: the hub of a network's settings (reminders here; it links to the weekly
digest's and the reports' screens)."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callback_answer import CallbackAnswer
from bot.callbacks import OffsetCb, PickNetCb
from bot.filters import DialogNetwork, MinLevel
from bot.keyboards import events as kb
from bot.replies import say
from bot.services import events, networks
from bot.services.access import Actor, Level
from bot.services.events import EventError
from storage.models import Network, utcnow

# ===================================================================== /settings


router = Router(name=__name__)


class NetworkSettings(StatesGroup):
    offsets = State()


router.message.filter(DialogNetwork(NetworkSettings))


def _offset_labels(current: list[int]) -> dict[int, str]:
    return {m: events.duration_label(m) for m in set(kb.OFFSET_PRESETS) | set(current)}


async def _settings_view(
    event: Message | CallbackQuery, session: AsyncSession, actor: Actor, network: Network
) -> None:
    current = await events.reminder_settings(session, actor, network.id)
    text = _(
        "<b>Settings of {network}</b>\n\n"
        "Event reminders: {offsets} before the start.\n"
        "Tap a time to switch it on or off, or type your own."
    ).format(network=escape(network.name), offsets=events.offsets_label(current))
    markup = kb.offsets(network.id, current, _offset_labels(current))
    await say(event, text, reply_markup=markup)


@router.message(Command("settings"), MinLevel(Level.COORDINATOR))
async def settings_command(
    message: Message, session: AsyncSession, actor: Actor, state: FSMContext
) -> None:
    options = await networks.coordinated(session, actor)
    if not options:
        await message.answer(_("There are no networks yet."))
    elif len(options) == 1:
        await _settings_view(message, session, actor, options[0])
    else:
        await message.answer(
            _("Which network?"), reply_markup=keyboards.pick_network("settings", options)
        )


@router.callback_query(PickNetCb.filter(F.purpose == "settings"), MinLevel(Level.COORDINATOR))
async def settings_network(
    query: CallbackQuery, callback_data: PickNetCb, session: AsyncSession, actor: Actor
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await _settings_view(query, session, actor, network)


@router.callback_query(OffsetCb.filter(F.minutes > 0), MinLevel(Level.COORDINATOR))
async def toggle_offset(
    query: CallbackQuery,
    callback_data: OffsetCb,
    callback_answer: CallbackAnswer,
    session: AsyncSession,
    actor: Actor,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    current = await events.reminder_settings(session, actor, network.id)
    wanted = set(current) ^ {callback_data.minutes}
    try:
        await events.set_reminder_offsets(session, actor, network.id, sorted(wanted), utcnow())
    except EventError as exc:
        callback_answer.text = events.problem_text(exc)
        callback_answer.show_alert = True
        return
    await _settings_view(query, session, actor, network)


@router.callback_query(OffsetCb.filter(F.minutes == 0), MinLevel(Level.COORDINATOR))
async def ask_offsets(
    query: CallbackQuery,
    callback_data: OffsetCb,
    session: AsyncSession,
    actor: Actor,
    state: FSMContext,
) -> None:
    network = await networks.coordinated_network(session, actor, callback_data.network_id)
    await state.set_state(NetworkSettings.offsets)
    await state.set_data({"network_id": network.id})
    await say(
        query,
        _(
            "Send the reminder times before each event, such as <code>1d 3h 30m</code> "
            "(d = days, h = hours, m = minutes; at most {n}), or <code>none</code>."
        ).format(n=events.MAX_OFFSETS),
    )


@router.message(NetworkSettings.offsets, F.text, ~F.text.startswith("/"))
async def typed_offsets(
    message: Message, state: FSMContext, session: AsyncSession, actor: Actor
) -> None:
    data = await state.get_data()
    network = await networks.coordinated_network(session, actor, int(data["network_id"]))
    try:
        offsets = events.parse_offsets(message.text or "")
        await events.set_reminder_offsets(session, actor, network.id, offsets, utcnow())
    except EventError as exc:
        await message.answer(events.problem_text(exc))
        return
    await state.clear()
    await _settings_view(message, session, actor, network)


@router.message(StateFilter(NetworkSettings), ~F.text.startswith("/"))
async def dialog_other(message: Message) -> None:
    """Anything unexpected inside this dialog: say what we are waiting for."""
    await message.answer(
        _("Please answer with text or the buttons above, or send /cancel to stop.")
    )
