"""Reports: the texts people see (summaries, list lines, problems)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from aiogram.utils.i18n import gettext as _
from babel.dates import get_day_names

from bot.services.reports.rules import Draft, Problem, ReportError
from bot.text.formats import fmt_date, fmt_number
from bot.text.labels import (
    activity_label,
    age_label,
    join_list,
    sector_label,
)
from storage.models import Network
from storage.models.reports import (
    AttachmentKind,
    Report,
    ReportStatus,
)
from storage.repositories.reports import ReportRow


def participants_text(n: int, locale: str) -> str:
    return _("{n} participant", "{n} participants", n).format(n=fmt_number(n, locale))


def summary(
    *,
    activity_type: str,
    day: date,
    participants: int,
    age: str | None,
    description: str,
    file_kind: str | None,
    network: Network | None,
    locale: str,
    action: str | None = None,
) -> str:
    """A report's fields, one per line (HTML, user text escaped); `action`: the title of
    the plan's action it serves."""
    head = f"<b>{escape(activity_label(activity_type))}</b>"
    if network is not None:
        head += f" · {escape(network.name)}"
    people = participants_text(participants, locale)
    if age:
        people += f" · {escape(age_label(age))}"
    lines = [
        head,
        f"📅 {fmt_date(day, locale, 'long')}",
        f"👥 {people}",
        "📝 " + _described(description),
    ]
    if action:
        lines.append("🎯 " + _("Action: {title}").format(title=escape(action)))
    if file_kind == AttachmentKind.PHOTO:
        lines.append("📎 " + _("Photo attached"))
    elif file_kind == AttachmentKind.DOCUMENT:
        lines.append("📎 " + _("Document attached"))
    return "\n".join(lines)


def _described(description: str) -> str:
    """An empty description is one whose text was removed (RETAIN_REPORT_TEXT_DAYS)."""
    if not description:
        return _("(text removed after the retention period)")
    return escape(description)


def draft_action(draft: Draft) -> str | None:
    """The title of the action chosen in the dialog (from the choices it offered)."""
    chosen = draft.get("action_id")
    for action_id, title in draft.get("actions") or []:
        if chosen and int(action_id) == int(chosen):
            return str(title)
    return None


def draft_summary(draft: Draft, network: Network | None, locale: str) -> str:
    return summary(
        activity_type=draft["type"],
        day=date.fromisoformat(draft["date"]),
        participants=int(draft["participants"]),
        age=draft.get("age") or None,
        description=draft["description"],
        file_kind=draft.get("file_kind"),
        network=network,
        locale=locale,
        action=draft_action(draft),
    )


def report_summary(
    report: Report, network: Network | None, locale: str, action: str | None = None
) -> str:
    return summary(
        activity_type=report.activity_type,
        day=report.activity_date,
        participants=report.participants,
        age=report.age_group,
        description=report.description,
        file_kind=report.attachment_kind,
        network=network,
        locale=locale,
        action=action,
    )


def author_text(row: ReportRow) -> str:
    name = escape(row.author_name) if row.author_name else _("former member")
    return f"{name} ({escape(sector_label(row.report.author_sector))})"


STATUS_MARKS = {ReportStatus.REVIEWED.value: " ✓", ReportStatus.FLAGGED.value: " ⚑"}


def status_mark(status: str) -> str:
    return STATUS_MARKS.get(status, "")


def list_line(row: ReportRow, locale: str) -> str:
    r = row.report
    parts = (
        r.reference,
        fmt_date(r.activity_date, locale),
        escape(activity_label(r.activity_type)),
        participants_text(r.participants, locale),
        author_text(row),
    )
    line = " · ".join(parts) + status_mark(r.status)
    if row.action_title:
        line += " · 🎯 " + escape(row.action_title)
    return line


def problem_text(error: ReportError, locale: str) -> str:
    """What went wrong, in the current locale, with the numbers the member needs."""
    info = error.info
    if error.problem == Problem.BAD_DATE:
        return _(
            "Please type the date as YYYY-MM-DD, for example {example}, or use a button."
        ).format(example=info.get("example", "2025-03-14"))
    if error.problem == Problem.FUTURE_DATE:
        return _("This date is in the future. Please report activities that already took place.")
    if error.problem == Problem.TOO_OLD:
        days = info["days"]
        return (
            _(
                "This date is more than {n} day ago.", "This date is more than {n} days ago.", days
            ).format(n=fmt_number(days, locale))
            + " "
            + _("Please ask your coordinator if you need to report an older activity.")
        )
    if error.problem == Problem.NOT_A_NUMBER:
        return _("Please send just the number of participants, for example 20.")
    if error.problem == Problem.TOO_MANY:
        return _("That is more than {max} participants. Please check the number.").format(
            max=fmt_number(info["max"], locale)
        )
    if error.problem == Problem.EMPTY:
        return _("Please write a few words.")
    if error.problem == Problem.TOO_LONG:
        return _(
            "Your text has {length} characters; the limit is {max}. Please shorten it "
            "and send it again."
        ).format(length=fmt_number(info["length"], locale), max=fmt_number(info["max"], locale))
    if error.problem == Problem.TOO_LATE:
        return _("Reports can only be changed or withdrawn within 24 hours.")
    if error.problem == Problem.GONE:
        return _("This report no longer exists.")
    if error.problem == Problem.BAD_RANGE:
        return _("The first date must not be after the second one.")
    return _("Something is missing in this report. Please start again with /report.")


def day_names(days: Sequence[int], locale: str) -> str:
    names = get_day_names("wide", locale=locale)
    return join_list((str(names[d]) for d in days), locale)
