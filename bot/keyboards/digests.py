"""Keyboards of the weekly digest: the network picker of /digest, the coordinators'
buttons under a preview, the day-and-hour screen and the "send now" questions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton, get_day_names

from bot.callbacks import DigestSendCb, DigestSetCb, PickNetCb
from storage.models import Network

PURPOSE = "digest"
HOURS = tuple(range(6, 22))  # the hour buttons (local time)
PICK_MAX = 90  # Telegram shows at most 100 buttons under a message


def pick(options: Sequence[Network], admin: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if admin:
        kb.button(text="🌐 " + _("All networks"), callback_data=PickNetCb(purpose=PURPOSE,
                                                                         network_id=0))
    for network in options[:PICK_MAX]:
        kb.button(text=network.name,
                  callback_data=PickNetCb(purpose=PURPOSE, network_id=network.id))
    kb.adjust(1)
    return kb.as_markup()


def coordinator_buttons(network_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="⚙️ " + _("Day and hour"), callback_data=DigestSetCb(network_id=network_id))
    kb.button(text="📤 " + _("Send now"), callback_data=DigestSendCb(network_id=network_id))
    kb.adjust(2)
    return kb.as_markup()


def schedule_buttons(network_id: int, weekday: int, hour: int, locale: str) -> InlineKeyboardMarkup:
    """Seven day buttons and the hour buttons, the chosen ones ticked."""
    kb = InlineKeyboardBuilder()
    days = get_day_names("abbreviated", locale=locale)
    for day in range(7):
        mark = "✓ " if day == weekday else ""
        kb.button(text=f"{mark}{days[day]}",
                  callback_data=DigestSetCb(network_id=network_id, key="day", value=day))
    for choice in HOURS:
        mark = "✓ " if choice == hour else ""
        label = format_skeleton("Hm", _clock(choice), locale=locale)
        kb.button(text=f"{mark}{label}",
                  callback_data=DigestSetCb(network_id=network_id, key="hour", value=choice))
    kb.button(text="📤 " + _("Send now"), callback_data=DigestSendCb(network_id=network_id))
    kb.button(text="👁 " + _("Preview"),
              callback_data=PickNetCb(purpose=PURPOSE, network_id=network_id))
    kb.adjust(4, 3, 4, 4, 4, 4, 2)
    return kb.as_markup()


def _clock(hour: int) -> datetime:
    return datetime(2000, 1, 1, hour)


def send_again(network_id: int) -> InlineKeyboardMarkup:
    """An admin's "send it again anyway" under the refusal."""
    kb = InlineKeyboardBuilder()
    kb.button(text="⚠️ " + _("Send it again anyway"),
              callback_data=DigestSendCb(network_id=network_id, step="force"))
    return kb.as_markup()


def confirm_send(network_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="📤 " + _("Yes, send it now"),
              callback_data=DigestSendCb(network_id=network_id, step="go"))
    kb.button(text=_("Not now"), callback_data=DigestSetCb(network_id=network_id))
    kb.adjust(1)
    return kb.as_markup()
