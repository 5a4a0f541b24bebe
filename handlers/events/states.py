"""The events router and its dialog states."""

from __future__ import annotations

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup

from bot.filters import DialogNetwork

router = Router(name=__name__)

EXAMPLE_HOUR = 17


class NewEvent(StatesGroup):
    kind = State()
    title = State()
    start = State()
    start_time = State()
    end = State()
    place = State()
    description = State()
    preview = State()


class EditEvent(StatesGroup):
    start = State()
    place = State()


# Each step of /newevent checks the network in its data (EditEvent's services check the event).
router.message.filter(DialogNetwork(NewEvent))
router.callback_query.filter(DialogNetwork(NewEvent))
