"""Anything unexpected inside the events dialogs."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers.events.states import EditEvent, NewEvent, router

# ====================================================================== dialogs


@router.message(StateFilter(NewEvent, EditEvent), ~F.text.startswith("/"))
async def dialog_other(message: Message) -> None:
    """Anything unexpected inside these dialogs: say what we are waiting for."""
    await message.answer(
        _("Please answer with text or the buttons above, or send /cancel to stop.")
    )
