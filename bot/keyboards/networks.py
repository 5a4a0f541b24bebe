"""Keyboards of /newnetwork (admins create a network in the bot)."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import InviteCb, NewNetCb
from bot.text.labels import LANGUAGE_NAMES
from storage.models import Role

ZONES_MAX = 24  # zone buttons shown; the others are typed


def countries(options: Iterable[tuple[str, str]]) -> InlineKeyboardMarkup:
    """(code, name) of the countries offered."""
    kb = InlineKeyboardBuilder()
    for code, name in options:
        kb.button(text=f"{name} ({code})", callback_data=NewNetCb(step="country", value=code))
    kb.adjust(2)
    return kb.as_markup()


def zones(names: Iterable[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for name in list(names)[:ZONES_MAX]:
        kb.button(text=name.replace("_", " "), callback_data=NewNetCb(step="tz", value=name))
    kb.adjust(2)
    return kb.as_markup()


def languages() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        kb.button(text=name, callback_data=NewNetCb(step="lang", value=code))
    kb.adjust(3)
    return kb.as_markup()


def approval() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Yes, coordinators approve each join"),
              callback_data=NewNetCb(step="approval", value="1"))
    kb.button(text=_("No, an invite is enough"), callback_data=NewNetCb(step="approval", value="0"))
    kb.adjust(1)
    return kb.as_markup()


def preview() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="✅ " + _("Create the network"), callback_data=NewNetCb(step="go"))
    kb.button(text="✏️ " + _("Change the short name"), callback_data=NewNetCb(step="slug"))
    kb.button(text=_("Cancel"), callback_data=NewNetCb(step="cancel"))
    kb.adjust(1, 2)
    return kb.as_markup()


def first_invite(network_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text="✉️ " + _("Invite its first coordinator"),
        callback_data=InviteCb(network_id=network_id, role=Role.COORDINATOR),
    )
    return kb.as_markup()
