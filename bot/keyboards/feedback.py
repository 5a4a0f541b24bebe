"""Inline keyboards of training feedback. Labels are translated at build time."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import EventCb, FbExportCb, FbSkipCb, FbViewCb

LABEL_MAX = 40


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def skip(event_id: int, step: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Skip"), callback_data=FbSkipCb(event_id=event_id, step=step))
    return kb.as_markup()


def overview(events: Sequence[tuple[int, str]], can_export: bool) -> InlineKeyboardMarkup | None:
    """A button per listed event (id, label), then the export of everything."""
    kb = InlineKeyboardBuilder()
    for event_id, label in events:
        kb.button(text=_short(label), callback_data=FbViewCb(event_id=event_id))
    if can_export:
        kb.button(text=_("📤 Export all (CSV, Excel)"), callback_data=FbExportCb(event_id=0))
    if not events and not can_export:
        return None
    kb.adjust(1)
    return kb.as_markup()


def event_results(event_id: int, can_export: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_export:
        kb.button(text=_("📤 Export (CSV, Excel)"), callback_data=FbExportCb(event_id=event_id))
    kb.button(text=_("« Back"), callback_data=EventCb(action="show", event_id=event_id))
    kb.adjust(1)
    return kb.as_markup()
