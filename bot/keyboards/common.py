"""Inline keyboards. Labels are translated at build time (the current locale)."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import (
    ApproveCb,
    ConsentCb,
    InviteCb,
    LangCb,
    LeaveCb,
    NameCb,
    PickNetCb,
    RevokeCb,
    SectorCb,
)
from bot.text.labels import LANGUAGE_NAMES, SECTOR_LABELS
from storage.models import Network, Role

INVITE_USE_CHOICES = (1, 5, 20, 50)


def languages(suggested: str | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        label = f"✓ {name}" if code == suggested else name
        kb.button(text=label, callback_data=LangCb(code=code))
    kb.adjust(3)
    return kb.as_markup()


def use_telegram_name(name: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Use “{name}”").format(name=name), callback_data=NameCb(use_telegram=True))
    return kb.as_markup()


def sectors() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for sector, label in SECTOR_LABELS.items():
        kb.button(text=str(label), callback_data=SectorCb(sector=sector))
    kb.adjust(2)
    return kb.as_markup()


def consent() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("I agree"), callback_data=ConsentCb(ok=True))
    kb.button(text=_("No, thanks"), callback_data=ConsentCb(ok=False))
    kb.adjust(2)
    return kb.as_markup()


def pick_network(purpose: str, options: Iterable[Network]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for network in options:
        data = PickNetCb(purpose=purpose, network_id=network.id)
        kb.button(text=network.name, callback_data=data)
    kb.adjust(1)
    return kb.as_markup()


def approve(membership_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Approve"), callback_data=ApproveCb(membership_id=membership_id, ok=True))
    kb.button(text=_("Decline"), callback_data=ApproveCb(membership_id=membership_id, ok=False))
    kb.adjust(2)
    return kb.as_markup()


def invite_roles(network_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Member"), callback_data=InviteCb(network_id=network_id, role=Role.MEMBER))
    kb.button(
        text=_("Coordinator"),
        callback_data=InviteCb(network_id=network_id, role=Role.COORDINATOR),
    )
    kb.adjust(2)
    return kb.as_markup()


def invite_uses(network_id: int, role: Role) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for uses in INVITE_USE_CHOICES:
        kb.button(
            text=_("for {n} person", "for {n} people", uses).format(n=uses),
            callback_data=InviteCb(network_id=network_id, role=role, uses=uses),
        )
    kb.adjust(2)
    return kb.as_markup()


def revoke(invite_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Revoke this invite"), callback_data=RevokeCb(invite_id=invite_id))
    return kb.as_markup()


def confirm_leave(network_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("Yes, leave and erase"), callback_data=LeaveCb(network_id=network_id, ok=True)
    )
    kb.button(text=_("No, stay"), callback_data=LeaveCb(network_id=network_id, ok=False))
    kb.adjust(1)
    return kb.as_markup()
