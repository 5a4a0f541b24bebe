"""The reports routers (members, coordinators), dialog states and the menu button."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import I18n

from bot.filters import TYPED, DialogNetwork, member_and_coordinator_routers
from bot.keyboards import reports as kb

router, members, coordinators = member_and_coordinator_routers(__name__)
TEXT = TYPED


class ReportForm(StatesGroup):
    type = State()
    date = State()
    participants = State()
    age = State()
    action = State()  # only when the network has actions under way
    description = State()
    attachment = State()
    preview = State()


class ReviewNote(StatesGroup):
    note = State()


class ExportRange(StatesGroup):
    dates = State()


# Each step of a dialog checks the network in its data (bot/filters.py).
members.message.filter(DialogNetwork(ReportForm, member=True))
members.callback_query.filter(DialogNetwork(ReportForm, member=True))
coordinators.message.filter(DialogNetwork(ExportRange))


STEPS = (
    ReportForm.type,
    ReportForm.date,
    ReportForm.participants,
    ReportForm.age,
    ReportForm.action,
    ReportForm.description,
    ReportForm.attachment,
    ReportForm.preview,
)
EDITS = {
    "edit_type": ReportForm.type,
    "edit_date": ReportForm.date,
    "edit_num": ReportForm.participants,
    "edit_age": ReportForm.age,
    "edit_desc": ReportForm.description,
    "edit_file": ReportForm.attachment,
    "edit_action": ReportForm.action,
}


class MenuButton(Filter):
    """The persistent keyboard's "Report an activity", in any of our languages."""

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        if not message.text:
            return False
        for locale in i18n.available_locales:
            with i18n.use_locale(locale):
                if message.text == kb.menu_label():
                    return True
        return False
