"""Keyboards of the action plans. Handlers give plain data: ids, labels, flags."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import (
    PlanActCb,
    PlanEditCb,
    PlanFormCb,
    PlanMsDoneCb,
    PlanMsEditCb,
    PlanMsNewCb,
    PlanNewCb,
    PlanRespCb,
    PlanShowCb,
    PlanStatusCb,
    RepActionCb,
)

BUTTON_CHARS = 40


def _cut(text: str, limit: int = BUTTON_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plan_menu(
    network_id: int, actions: Sequence[tuple[int, str]], editable: bool
) -> InlineKeyboardMarkup:
    """One button per action (mark and title), and "New action" for coordinators."""
    kb = InlineKeyboardBuilder()
    for action_id, label in actions:
        kb.button(text=_cut(label), callback_data=PlanActCb(action_id=action_id))
    if editable:
        kb.button(text="➕ " + _("New action"), callback_data=PlanNewCb(network_id=network_id))
    kb.adjust(1)
    return kb.as_markup()


def action_menu(
    action_id: int,
    network_id: int,
    statuses: Sequence[tuple[str, str]],
    milestones: Sequence[tuple[int, str, bool]],
    editable: bool,
) -> InlineKeyboardMarkup:
    """A coordinator's buttons on an action: the other statuses, each milestone (done or
    not), a new milestone; everyone: back to the plan."""
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    if editable:
        for status, label in statuses:
            kb.button(text=label, callback_data=PlanStatusCb(action_id=action_id, status=status))
        sizes += [2] * (len(statuses) // 2) + ([1] if len(statuses) % 2 else [])
        for milestone_id, text, done in milestones:
            mark = "☑️" if done else "⬜"
            kb.button(text=f"{mark} {_cut(text, 30)}",
                      callback_data=PlanMsDoneCb(milestone_id=milestone_id))
            sizes.append(1)
        kb.button(text="➕ " + _("Milestone"), callback_data=PlanMsNewCb(action_id=action_id))
        kb.button(text="👤 " + _("Responsible"), callback_data=PlanRespCb(action_id=action_id))
        kb.button(text="✏️ " + _("Edit"), callback_data=PlanEditCb(action_id=action_id))
        sizes += [2, 2]
    else:
        sizes.append(1)
    kb.button(text="⬅️ " + _("The plan"), callback_data=PlanShowCb(network_id=network_id))
    kb.adjust(*sizes)
    return kb.as_markup()


def edit_menu(
    action_id: int, milestones: Sequence[tuple[int, str, bool]]
) -> InlineKeyboardMarkup:
    """What of an action to change: title, aim, months, or one of its milestones."""
    kb = InlineKeyboardBuilder()
    for what, label in (("title", _("Title")), ("aim", _("Aim")), ("months", _("Months"))):
        kb.button(text=label, callback_data=PlanEditCb(action_id=action_id, what=what))
    for milestone_id, text, _done in milestones:
        kb.button(text="🏁 " + _cut(text, 30),
                  callback_data=PlanMsEditCb(milestone_id=milestone_id))
    kb.button(text="⬅️ " + _("Back"), callback_data=PlanActCb(action_id=action_id))
    kb.adjust(3, *([1] * (len(milestones) + 1)))
    return kb.as_markup()


def milestone_menu(milestone_id: int, action_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="✏️ " + _("Text"), callback_data=PlanMsEditCb(milestone_id=milestone_id,
                                                                 what="text"))
    kb.button(text="📅 " + _("Due date"), callback_data=PlanMsEditCb(milestone_id=milestone_id,
                                                                    what="due"))
    kb.button(text="🗑 " + _("Remove"), callback_data=PlanMsEditCb(milestone_id=milestone_id,
                                                                  what="remove"))
    kb.button(text="⬅️ " + _("Back"), callback_data=PlanEditCb(action_id=action_id))
    kb.adjust(2, 1, 1)
    return kb.as_markup()


def remove_confirm(milestone_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="🗑 " + _("Yes, remove it"),
              callback_data=PlanMsEditCb(milestone_id=milestone_id, what="remove_ok"))
    kb.button(text=_("No, keep it"), callback_data=PlanMsEditCb(milestone_id=milestone_id))
    kb.adjust(1)
    return kb.as_markup()


def clear_aim() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Clear the aim"), callback_data=PlanFormCb(step="aim_clear"))
    return kb.as_markup()


def skip() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Skip"), callback_data=PlanFormCb(step="skip"))
    return kb.as_markup()


def responsible(people: Sequence[tuple[int, str]], chosen: set[int]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for user_id, name in people:
        mark = "✅ " if user_id in chosen else ""
        kb.button(text=mark + _cut(name, 30), callback_data=PlanFormCb(step="resp",
                                                                       value=str(user_id)))
    kb.button(text=_("Continue"), callback_data=PlanFormCb(step="resp_done"))
    kb.adjust(*([2] * (len(people) // 2) + [1] * (len(people) % 2)), 1)
    return kb.as_markup()


def months(step: str, choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """(YYYY-MM, label) buttons, three a row."""
    kb = InlineKeyboardBuilder()
    for key, label in choices:
        kb.button(text=label, callback_data=PlanFormCb(step=step, value=key))
    kb.adjust(3)
    return kb.as_markup()


def due_dates(choices: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    """(YYYY-MM-DD, label) buttons."""
    kb = InlineKeyboardBuilder()
    for day, label in choices:
        kb.button(text=label, callback_data=PlanFormCb(step="due", value=day))
    kb.adjust(2)
    return kb.as_markup()


def report_actions(actions: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """The report dialog's optional step: an action under way, or none."""
    kb = InlineKeyboardBuilder()
    for action_id, title in actions:
        kb.button(text=_cut(title), callback_data=RepActionCb(action_id=action_id))
    kb.button(text=_("None of them"), callback_data=RepActionCb(action_id=0))
    kb.adjust(1)
    return kb.as_markup()
