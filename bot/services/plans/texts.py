"""Action plans: what people read (the plan, an action, problems, reminders)."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.dates import format_interval, format_skeleton

from bot.services.plans.actions import PlanView
from bot.services.plans.rules import PlanError, Problem, days_left
from bot.text.formats import fmt_date, fmt_number, utf16_len
from bot.text.labels import join_list
from storage.models import Network
from storage.models.plans import ActionStatus
from storage.repositories.plans import ActionView, Progress

STATUS_LABELS = {
    ActionStatus.PLANNED.value: __("Planned"),
    ActionStatus.UNDER_WAY.value: __("Under way"),
    ActionStatus.DONE.value: __("Done"),
    ActionStatus.DROPPED.value: __("Dropped"),
}
STATUS_MARKS = {
    ActionStatus.PLANNED.value: "🗓",
    ActionStatus.UNDER_WAY.value: "▶️",
    ActionStatus.DONE.value: "✅",
    ActionStatus.DROPPED.value: "✖️",
}


TEXT_MAX = 4096


def fit(text: str, limit: int = TEXT_MAX) -> str:
    """Cut at a line so the text stays within Telegram's limit (each line is whole HTML)."""
    if utf16_len(text) <= limit:
        return text
    lines = text.split("\n")
    while lines and utf16_len("\n".join(lines)) + 2 > limit:
        lines.pop()
    return "\n".join(lines) + "\n…"


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)
    return str(label) if label is not None else status


def month_label(month: date, locale: str) -> str:
    return format_skeleton("yMMM", month, locale=locale)


def months_text(start: date, end: date, locale: str) -> str:
    if start == end:
        return month_label(start, locale)
    return format_interval(start, end, "yMMM", locale=locale)


def progress_text(p: Progress, locale: str) -> str:
    parts = [
        "📝 " + _("{n} report", "{n} reports", p.reports).format(n=fmt_number(p.reports, locale)),
        "👥 " + _("{n} participant", "{n} participants", p.participants).format(
            n=fmt_number(p.participants, locale)
        ),
    ]
    if p.milestones:
        parts.append(
            "🏁 " + _("{done} of {n} milestone done", "{done} of {n} milestones done",
                      p.milestones).format(done=fmt_number(p.milestones_done, locale),
                                           n=fmt_number(p.milestones, locale))
        )
    return " · ".join(parts)


def days_text(view: ActionView, today: date, locale: str) -> str:
    left = days_left(view.action.end_month, today)
    if left < 0:
        return _("ended {n} day ago", "ended {n} days ago", -left).format(
            n=fmt_number(-left, locale)
        )
    return _("{n} day left", "{n} days left", left).format(n=fmt_number(left, locale))


def _head(view: ActionView, locale: str) -> str:
    a = view.action
    return (
        f"{STATUS_MARKS.get(a.status, '')} <b>{escape(a.title)}</b> · "
        f"{escape(status_label(a.status))} · {months_text(a.start_month, a.end_month, locale)}"
    )


def plan_text(view: PlanView, locale: str) -> str:
    lines = [_("🎯 <b>{network}</b>: action plan").format(network=escape(view.network.name))]
    if not view.actions:
        lines.append(_("No actions yet."))
        if view.editable:
            lines.append(_("Tap “New action” to add the first one."))
        return "\n".join(lines)
    for v in view.actions:
        lines.append("")
        lines.append(_head(v, locale))
        tail = progress_text(v.progress, locale)
        if v.action.status in (ActionStatus.PLANNED, ActionStatus.UNDER_WAY):
            tail += " · ⏳ " + days_text(v, view.today, locale)
        lines.append("      " + tail)
        if v.action.id in view.mine:
            lines.append("      ⭐ " + _("You are responsible for this action."))
    lines += ["", _("Tap an action to see its milestones.")]
    return fit("\n".join(lines))


def action_text(plan: PlanView, view: ActionView, locale: str) -> str:
    a = view.action
    lines = [_head(view, locale)]
    if a.aim:
        lines.append("🎯 " + escape(a.aim))
    names = [escape(n) if n else _("(no name)") for _uid, n in view.responsible]
    lines.append(
        "👤 " + (_("Responsible: {names}").format(names=join_list(names, locale)) if names
                else _("Nobody is responsible yet."))
    )
    progress = progress_text(view.progress, locale)
    if a.status in (ActionStatus.PLANNED, ActionStatus.UNDER_WAY):  # not once done or dropped
        progress += " · ⏳ " + days_text(view, plan.today, locale)
    lines.append(progress)
    if a.id in plan.mine:
        lines.append("⭐ " + _("You are responsible for this action."))
    lines += ["", "<b>" + _("Milestones") + "</b>"]
    if not view.milestones:
        lines.append(_("No milestones yet."))
    for m in view.milestones:
        mark = "☑️" if m.done else ("⚠️" if m.due_date < plan.today else "⬜")
        line = f"{mark} {escape(m.text)} · {fmt_date(m.due_date, locale)}"
        if not m.done and m.due_date < plan.today:
            line += " · <i>" + _("overdue") + "</i>"
        lines.append(line)
    return fit("\n".join(lines), TEXT_MAX - 200)  # room for a line above (handlers)


def problem_text(error: PlanError, locale: str) -> str:
    info = error.info
    if error.problem == Problem.EMPTY:
        return _("Please write a few words.")
    if error.problem == Problem.TOO_LONG:
        return _(
            "Your text has {length} characters; the limit is {max}. Please shorten it "
            "and send it again."
        ).format(length=fmt_number(info["length"], locale), max=fmt_number(info["max"], locale))
    if error.problem == Problem.BAD_DATE:
        return _(
            "Please type the date as YYYY-MM-DD, for example {example}, or use a button."
        ).format(example=info.get("example", "2026-03-14"))
    if error.problem == Problem.PAST_DATE:
        return _("This date is in the past. Please choose today or a later day.")
    if error.problem == Problem.FAR_DATE:
        return _("This date is too far ahead. Please choose a day within three years.")
    if error.problem == Problem.BAD_MONTHS:
        return _("The last month must not be before the first one.")
    if error.problem == Problem.TOO_MANY:
        return _("There are already {max} of them; that is the limit.").format(
            max=fmt_number(info["max"], locale)
        )
    if error.problem == Problem.GONE:
        return _("This action no longer exists.")
    if error.problem == Problem.MILESTONE_GONE:
        return _("This milestone no longer exists.")
    return _("Something is missing. Please start again with /plan.")


def reminder_payload(
    i18n: I18n, network: Network, title: str, text: str, due: date, locales: list[str]
) -> dict[str, Any]:
    variants: dict[str, dict[str, Any]] = {}
    for locale in locales:
        with i18n.context(), i18n.use_locale(locale):
            variants[locale] = {
                "text": _(
                    "⏰ A milestone of <b>{action}</b> ({network}) was due on {date} and is "
                    "not marked done: {milestone}\nIf it is done, please tell your "
                    "coordinator; /plan shows the plan."
                ).format(
                    action=escape(title), network=escape(network.name),
                    date=fmt_date(due, locale), milestone=escape(text),
                )
            }
    first = locales[0]
    return {
        "method": "send_message",
        "params": dict(variants.get("en", variants[first])),
        "locales": variants,
    }
