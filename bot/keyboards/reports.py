"""Keyboards of the reports feature. Labels are translated at build time (current locale)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

if TYPE_CHECKING:
    from bot.services.reports import ReportPage, ReportSettingsView

from bot.callbacks import (
    RepAgeCb,
    RepDateCb,
    RepExportCb,
    RepExportPseudoCb,
    RepFormCb,
    RepListCb,
    RepMineCb,
    RepNumCb,
    RepReviewCb,
    RepSetCb,
    RepTypeCb,
    RepTypeMenuCb,
    RepViewCb,
)
from bot.text.formats import first_words, fmt_date, fmt_number
from bot.text.labels import ACTIVITY_LABELS, AGE_LABELS, activity_label
from storage.models.reports import (
    MAX_AGE_CHOICES,
    NUDGE_DAY_CHOICES,
    PARTICIPANT_CHOICES,
    PERIOD_CHOICES,
    PERIODS,
    Report,
    ReportStatus,
)

BUTTON_WORDS = 18  # characters of a description on a button


def menu_label() -> str:
    """The persistent keyboard button that starts /report (and the nudge's button)."""
    return "📝 " + _("Report an activity")


def report_menu() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=menu_label())]],
        resize_keyboard=True,
        is_persistent=True,
    )


def activity_types() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind, label in ACTIVITY_LABELS.items():
        kb.button(text=str(label), callback_data=RepTypeCb(t=kind.value))
    kb.adjust(2)
    return kb.as_markup()


def dates(today: date, locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for days_ago, label in ((0, _("Today")), (1, _("Yesterday"))):
        day = fmt_date(date.fromordinal(today.toordinal() - days_ago), locale)
        kb.button(text=f"{label} ({day})", callback_data=RepDateCb(days_ago=days_ago))
    kb.adjust(1)
    return kb.as_markup()


def participants(locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for n in PARTICIPANT_CHOICES:
        kb.button(text=fmt_number(n, locale), callback_data=RepNumCb(n=n))
    kb.adjust(4)
    return kb.as_markup()


def age_groups() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for group, label in AGE_LABELS.items():
        kb.button(text=str(label), callback_data=RepAgeCb(a=group.value))
    kb.button(text=_("Skip"), callback_data=RepAgeCb(a="none"))
    kb.adjust(2)
    return kb.as_markup()


def attachment(has_file: bool) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if has_file:
        kb.button(text=_("Keep the current file"), callback_data=RepFormCb(action="skip_file"))
        kb.button(text=_("Remove the file"), callback_data=RepFormCb(action="remove_file"))
    else:
        kb.button(text=_("Skip"), callback_data=RepFormCb(action="skip_file"))
    kb.adjust(1)
    return kb.as_markup()


def preview(editing: bool, with_action: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text="✅ " + (_("Save changes") if editing else _("Submit")),
        callback_data=RepFormCb(action="submit"),
    )
    for action, label in (
        ("edit_type", _("Type")),
        ("edit_date", _("Date")),
        ("edit_num", _("Participants")),
        ("edit_age", _("Age group")),
        ("edit_desc", _("Description")),
        ("edit_file", _("Photo or document")),
    ):
        kb.button(text="✏️ " + label, callback_data=RepFormCb(action=action))
    if with_action:
        kb.button(text="✏️ " + _("Action of the plan"),
                  callback_data=RepFormCb(action="edit_action"))
    kb.button(text=_("Cancel"), callback_data=RepFormCb(action="cancel"))
    kb.adjust(1, 2, 2, 2, *((1,) if with_action else ()), 1)
    return kb.as_markup()


def my_reports(rows: Sequence[Report]) -> InlineKeyboardMarkup | None:
    """Buttons to fix or withdraw each of `rows` (those still editable)."""
    kb = InlineKeyboardBuilder()
    count = 0
    for r in rows:
        label = r.reference
        words = first_words(r.description, BUTTON_WORDS)
        if words:
            label += " · " + words
        kb.button(text="✏️ " + label, callback_data=RepMineCb(report_id=r.id, action="edit"))
        kb.button(text="🗑 " + label, callback_data=RepMineCb(report_id=r.id, action="withdraw"))
        count += 1
    if not count:
        return None
    kb.adjust(2)
    return kb.as_markup()


def confirm_withdraw(report_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("Yes, withdraw it"), callback_data=RepMineCb(report_id=report_id, action="confirm")
    )
    kb.button(text=_("No, keep it"), callback_data=RepMineCb(report_id=report_id, action="keep"))
    kb.adjust(2)
    return kb.as_markup()


def report_list(page: ReportPage, locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    opens = [row.report for row in page.rows]
    for r in opens:
        kb.button(text=r.reference, callback_data=RepViewCb(report_id=r.id))
    sizes += [4] * (len(opens) // 4) + ([len(opens) % 4] if len(opens) % 4 else [])
    nid, t, days = page.network.id, page.activity_type, page.days
    pager = 0
    if page.page > 0:
        kb.button(
            text="‹", callback_data=RepListCb(network_id=nid, page=page.page - 1, t=t, days=days)
        )
        pager += 1
    if page.page + 1 < page.pages:
        kb.button(
            text="›", callback_data=RepListCb(network_id=nid, page=page.page + 1, t=t, days=days)
        )
        pager += 1
    if pager:
        sizes.append(pager)
    type_label = activity_label(t) if t else _("all types")
    kb.button(
        text=_("Type: {type}").format(type=type_label),
        callback_data=RepTypeMenuCb(network_id=nid, days=days),
    )
    choices = (0, *PERIOD_CHOICES)
    following = choices[(choices.index(days) + 1) % len(choices)] if days in choices else 0
    kb.button(
        text=_("Period: {period}").format(period=period_label(days, locale)),
        callback_data=RepListCb(network_id=nid, t=t, days=following),
    )
    sizes.append(2)
    kb.button(text="⬇️ " + _("Export"), callback_data=RepExportCb(network_id=nid))
    kb.button(text="⏰ " + _("Nudge settings"), callback_data=RepSetCb(network_id=nid))
    sizes.append(2)
    kb.adjust(*sizes)
    return kb.as_markup()


def period_label(days: int, locale: str) -> str:
    if not days:
        return _("all time")
    return _("last {n} day", "last {n} days", days).format(n=fmt_number(days, locale))


def type_menu(network_id: int, days: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("All types"), callback_data=RepListCb(network_id=network_id, days=days))
    for kind, label in ACTIVITY_LABELS.items():
        kb.button(
            text=str(label), callback_data=RepListCb(network_id=network_id, t=kind.value, days=days)
        )
    kb.adjust(1, 2)
    return kb.as_markup()


def review(report: Report) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if report.status != ReportStatus.REVIEWED:
        kb.button(
            text="✓ " + _("Mark reviewed"),
            callback_data=RepReviewCb(report_id=report.id, action="ok"),
        )
    kb.button(
        text="⚑ " + _("Flag with a note"),
        callback_data=RepReviewCb(report_id=report.id, action="flag"),
    )
    kb.button(text="‹ " + _("All reports"), callback_data=RepListCb(network_id=report.network_id))
    kb.adjust(2, 1)
    return kb.as_markup()


def export_periods(
    network_id: int, pseudo: bool = False, offer_pseudo: bool = False
) -> InlineKeyboardMarkup:
    """The periods of an export; with ``offer_pseudo``, a last button switches between
    named and pseudonymised files (the periods carry the choice)."""
    kb = InlineKeyboardBuilder()
    cb = RepExportPseudoCb if pseudo else RepExportCb
    labels = {
        "week": _("This week"),
        "lastweek": _("Last week"),
        "month": _("This month"),
        "lastmonth": _("Last month"),
        "30": _("Last 30 days"),
        "all": _("Everything"),
    }
    for period in PERIODS:
        kb.button(
            text=labels[period],
            callback_data=cb(network_id=network_id, period=period),
        )
    kb.button(
        text=_("Other dates…"),
        callback_data=cb(network_id=network_id, period="custom"),
    )
    if offer_pseudo or pseudo:
        label = _("Show the authors' names") if pseudo else _("Pseudonymise the authors")
        kb.button(
            text=("👤 " if pseudo else "🔒 ") + label,
            callback_data=(RepExportCb if pseudo else RepExportPseudoCb)(network_id=network_id),
        )
    kb.adjust(2, 2, 2, 1, 1)
    return kb.as_markup()


def report_settings(settings: ReportSettingsView, locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    nid = settings.network_id
    if settings.nudge_enabled:
        kb.button(
            text=_("Turn reminders off"),
            callback_data=RepSetCb(network_id=nid, key="nudge", value=0),
        )
    else:
        kb.button(
            text=_("Turn reminders on"),
            callback_data=RepSetCb(network_id=nid, key="nudge", value=1),
        )
    for n in NUDGE_DAY_CHOICES:
        mark = "✓ " if n == settings.nudge_days else ""
        kb.button(
            text=mark + _("{n} day", "{n} days", n).format(n=fmt_number(n, locale)),
            callback_data=RepSetCb(network_id=nid, key="days", value=n),
        )
    for n in MAX_AGE_CHOICES:
        mark = "✓ " if n == settings.max_age_days else ""
        kb.button(
            text=mark
            + _("dates up to {n} day back", "dates up to {n} days back", n).format(
                n=fmt_number(n, locale)
            ),
            callback_data=RepSetCb(network_id=nid, key="age", value=n),
        )
    kb.button(text="‹ " + _("All reports"), callback_data=RepListCb(network_id=nid))
    kb.adjust(1, len(NUDGE_DAY_CHOICES), 1, 1, 1, 1)
    return kb.as_markup()
