"""Keyboards of the /broadcast dialog."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import BcAudCb, BcCancelCb, BcNetCb, BcSecCb, BcStepCb
from bot.text.labels import SECTOR_LABELS
from storage.models import Network


def _tick(on: bool, label: str) -> str:
    return f"☑ {label}" if on else f"☐ {label}"


def networks(options: Iterable[Network], chosen: Collection[int]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for n in options:
        kb.button(text=_tick(n.id in chosen, n.name), callback_data=BcNetCb(network_id=n.id))
    kb.button(text=_("Continue"), callback_data=BcStepCb(action="networks_done"))
    kb.button(text=_("Cancel"), callback_data=BcStepCb(action="cancel"))
    kb.adjust(1)
    return kb.as_markup()


def audience() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Everyone"), callback_data=BcAudCb(audience="all"))
    kb.button(text=_("Coordinators only"), callback_data=BcAudCb(audience="coordinators"))
    kb.button(text=_("Some sectors…"), callback_data=BcAudCb(audience="sectors"))
    kb.button(text=_("Cancel"), callback_data=BcStepCb(action="cancel"))
    kb.adjust(1)
    return kb.as_markup()


def sectors(chosen: Collection[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for sector, label in SECTOR_LABELS.items():
        kb.button(text=_tick(sector in chosen, str(label)), callback_data=BcSecCb(sector=sector))
    kb.button(text=_("Continue"), callback_data=BcStepCb(action="sectors_done"))
    kb.adjust(2)
    return kb.as_markup()


def confirm() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Send now"), callback_data=BcStepCb(action="send"))
    kb.button(text=_("Schedule…"), callback_data=BcStepCb(action="schedule"))
    kb.button(text=_("Cancel"), callback_data=BcStepCb(action="cancel"))
    kb.adjust(2, 1)
    return kb.as_markup()


def cancel_scheduled(broadcast_ids: Iterable[int]) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    for n, broadcast_id in enumerate(broadcast_ids, start=1):
        kb.button(
            text=_("Cancel scheduled #{n}").format(n=n),
            callback_data=BcCancelCb(broadcast_id=broadcast_id),
        )
    kb.adjust(1)
    markup = kb.as_markup()
    return markup if markup.inline_keyboard else None
