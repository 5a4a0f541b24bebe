"""Training feedback: what members and coordinators read."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date
from babel.numbers import format_decimal

from bot.callbacks import FbRateCb
from bot.services.events.texts import in_locales
from bot.services.feedback.rules import RATINGS, TEXT_MAX, FeedbackError, Problem
from bot.text.formats import fit_lines, fmt_number, utf16_len
from bot.text.labels import event_kind_label
from storage.models.events import Event

TEXT_LIMIT = 4096
STARS = "★"


def event_date(event: Event, locale: str) -> str:
    start = event.starts_at.astimezone(ZoneInfo(event.network.timezone))
    return format_date(start.date(), "medium", locale=locale)


def fmt_average(value: float | None, locale: str) -> str:
    if value is None:
        return "—"
    return format_decimal(round(value, 1), format="0.0", locale=locale)


def question_text(event: Event, reminder: bool, locale: str) -> str:
    head = (
        _("📝 A reminder: your feedback on <b>{title}</b> ({kind}, {date}) takes a minute.")
        if reminder
        else _("📝 Thank you for taking part in <b>{title}</b> ({kind}, {date}).")
    ).format(
        title=escape(event.title), kind=event_kind_label(event.kind), date=event_date(event, locale)
    )
    return "\n\n".join(
        [
            head,
            _("How useful was it for your work? Tap 1 (not useful) to 5 (very useful)."),
            _("The coordinators see your answers without your name."),
        ]
    )


def _rating_label(n: int, locale: str) -> str:
    return fmt_number(n, locale)


def rating_buttons(i18n: I18n, event_id: int) -> list[list[dict[str, Any]]]:
    """The 1-5 row, as payload buttons with labels per locale (digits of each locale)."""
    return [
        [
            {
                "text": in_locales(i18n, functools.partial(_rating_label, n)),
                "callback_data": FbRateCb(event_id=event_id, n=n).pack(),
            }
            for n in RATINGS
        ]
    ]


def rated_text(event: Event, n: int, locale: str) -> str:
    return _("📝 <b>{title}</b>: your answer is {n} of 5. Thank you!").format(
        title=escape(event.title), n=fmt_number(n, locale)
    )


def step_question(step: str) -> str:
    if step == "apply":
        question = _("What will you apply from it in your work?")
    else:
        question = _("What was missing, or what would have made it more useful?")
    hint = _("Type a short answer (up to {n} characters), or tap “Skip”.").format(n=TEXT_MAX)
    return f"{question}\n{hint}"


def done_text() -> str:
    return _("Thank you! Your answers help plan the next trainings.")


def problem_text(exc: FeedbackError) -> str:
    if exc.problem == Problem.ANSWERED:
        return _("You have already answered this question. Thank you!")
    if exc.problem == Problem.TOO_LONG:
        return _("Please keep it under {n} characters.").format(n=TEXT_MAX)
    return _("This question is not for you: only those who took part are asked.")


# ------------------------------------------------------------------ coordinators


def distribution_lines(counts: dict[int, int], locale: str) -> list[str]:
    return [
        f"{fmt_number(n, locale)} {STARS * n}: {fmt_number(counts.get(n, 0), locale)}"
        for n in reversed(RATINGS)
    ]


def answered_line(answered: int, asked: int, average: float | None, locale: str) -> str:
    return _(
        "{answered} of {asked} asked answered, average {average} of 5.",
        "{answered} of {asked} asked answered, average {average} of 5.",
        asked,
    ).format(
        answered=fmt_number(answered, locale),
        asked=fmt_number(asked, locale),
        average=fmt_average(average, locale),
    )


def _bullets(texts: Sequence[str]) -> list[str]:
    return [f"• {escape(t)}" for t in texts] or ["—"]


def results_text(
    event: Event,
    asked: int,
    answered: int,
    average: float | None,
    counts: dict[int, int],
    apply: Sequence[str],
    missing: Sequence[str],
    locale: str,
    *,
    now: datetime,
) -> str:
    title = _("📝 <b>Feedback: {title}</b> ({kind}, {date})").format(
        title=escape(event.title), kind=event_kind_label(event.kind), date=event_date(event, locale)
    )
    if event.kind == "meeting":
        return title + "\n\n" + _("Feedback is asked after trainings and workshops only.")
    if event.ends_at > now:
        return title + "\n\n" + _("Those who took part are asked when the event ends.")
    if not asked:
        return title + "\n\n" + _(
            "Nobody was asked: nobody was marked as present or answered “going”."
        )
    head = [title, "", answered_line(answered, asked, average, locale), ""]
    head += distribution_lines(counts, locale)
    apply_head, missing_head = _("<b>What they will apply</b>"), _("<b>What was missing</b>")
    foot = _("Answers are shown without names.")
    # Both lists fit, each in half the room left (whole lines; the export has every text).
    room = TEXT_LIMIT - utf16_len("\n".join([*head, "", apply_head, "", missing_head, "", foot]))
    half = max(room // 2 - 2, 0)
    lines = [*head, "", apply_head, fit_lines("\n".join(_bullets(apply)), half)]
    lines += ["", missing_head, fit_lines("\n".join(_bullets(missing)), half)]
    lines += ["", foot]
    return fit_lines("\n".join(lines), TEXT_LIMIT)


def overview_text(overview: Any, locale: str) -> str:
    """/feedback: per training kind and month, then the latest events (no texts, no names)."""
    lines = [_("📝 <b>Training feedback</b>")]
    if not overview.months:
        lines += ["", _("No feedback yet: those who took part are asked when a training or "
                        "workshop ends.")]
        return "\n".join(lines)
    lines += ["", _("<b>By month</b>")]
    for m in overview.months:
        s = m.summary
        lines.append(
            _("{month}, {kind}: {events} event(s), {line}", "{month}, {kind}: {events} events, "
              "{line}", m.events).format(
                month=format_date(m.month, "LLLL y", locale=locale),
                kind=event_kind_label(m.kind),
                events=fmt_number(m.events, locale),
                line=answered_line(s.answered, s.asked, s.average, locale),
            )
        )
    lines += ["", _("<b>Latest events</b>")]
    for n, e in enumerate(overview.recent, 1):
        day = format_date(e.starts_at.astimezone(ZoneInfo(e.timezone)).date(), "medium",
                          locale=locale)
        s = e.summary
        lines.append(
            _("{n}. <b>{title}</b> ({network}, {date}): {line}").format(
                n=fmt_number(n, locale), title=escape(e.title), network=escape(e.network),
                date=day, line=answered_line(s.answered, s.asked, s.average, locale),
            )
        )
    return fit_lines("\n".join(lines), TEXT_LIMIT)
