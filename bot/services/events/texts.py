"""Events: the texts people see (cards, announcements, reminders) and the RSVP buttons' labels."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_time, format_timedelta, get_timezone_location

from bot.callbacks import RsvpCb
from bot.config import SUPPORTED_LOCALES
from bot.services.events.rules import CAPTION_MAX, MAX_OFFSETS, TEXT_MAX, EventError, Problem
from bot.text.formats import utf16_len
from bot.text.labels import (
    ANSWER_ICONS,
    ANSWER_LABELS,
    answer_label,
    event_kind_label,
    join_list,
)
from storage.models import utcnow
from storage.models.events import Answer, Event


@dataclass(frozen=True, slots=True)
class Card:
    """What an event's text shows (an Event, or a draft not stored yet)."""

    kind: str
    title: str
    place: str
    description: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str

    @classmethod
    def of(cls, event: Event) -> Card:
        return cls(
            kind=event.kind,
            title=event.title,
            place=event.place,
            description=event.description,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            timezone=event.network.timezone,
        )


def duration_label(minutes: int) -> str:
    """``1 day``, ``3 hours``, ``1 hour 30 minutes`` in the current locale."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("{n} day", "{n} days", days).format(n=days))
    if hours:
        parts.append(_("{n} hour", "{n} hours", hours).format(n=hours))
    if mins or not parts:
        parts.append(_("{n} minute", "{n} minutes", mins).format(n=mins))
    label = parts[0]
    for part in parts[1:]:  # "1 hour 30 minutes"; Arabic joins them with "و"
        label = _("{first} {then}").format(first=label, then=part)
    return label


def offsets_label(offsets: Sequence[int]) -> str:
    if not offsets:
        return _("no reminders")
    return join_list(duration_label(m) for m in offsets)


def when_text(starts_at: datetime, ends_at: datetime, tz_name: str, locale: str) -> str:
    tz = ZoneInfo(tz_name)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    start_time = format_time(start, "short", tzinfo=tz, locale=locale)
    end_time = format_time(end, "short", tzinfo=tz, locale=locale)
    start_date = format_date(start.date(), "full", locale=locale)
    if start.date() == end.date():
        return _("{date}, {start}–{end}").format(date=start_date, start=start_time, end=end_time)
    return _("{start_date}, {start} – {end_date}, {end}").format(
        start_date=start_date,
        start=start_time,
        end_date=format_date(end.date(), "full", locale=locale),
        end=end_time,
    )


def card_text(
    card: Card, locale: str, *, header: str = "", footer: str = "", limit: int = TEXT_MAX
) -> str:
    """The event as HTML: header, kind and title, when, where, description, footer.

    The description is shortened when the whole would exceed ``limit`` (UTF-16 units, as
    Telegram counts; a caption allows 1,024). The calendar file keeps it whole.
    """
    lines = []
    if header:
        lines.append(header)
    lines.append(f"📅 <b>{escape(event_kind_label(card.kind))}: {escape(card.title)}</b>")
    lines.append("🕔 " + when_text(card.starts_at, card.ends_at, card.timezone, locale))
    lines.append("📍 " + escape(card.place))
    head = "\n".join(lines)
    tail = "\n\n" + footer if footer else ""
    if not card.description:
        return head + tail
    description = escape(card.description)
    room = limit - utf16_len(head) - utf16_len(tail) - 2
    if utf16_len(description) > room:
        plain = card.description
        while plain and utf16_len(escape(plain)) > room - 1:
            plain = plain[: max(0, len(plain) - max(1, len(plain) // 10))]
        description = escape(plain.rstrip()) + "…" if plain else ""
    return head + ("\n\n" + description if description else "") + tail


def in_locales(i18n: I18n, render: Callable[[str], Any]) -> dict[str, Any]:
    """``render(locale)`` under each supported locale (works outside handlers too)."""
    out: dict[str, Any] = {}
    with i18n.context():
        for locale in SUPPORTED_LOCALES:
            with i18n.use_locale(locale):
                out[locale] = render(locale)
    return out


def rsvp_buttons(i18n: I18n, event_id: int) -> list[list[dict[str, Any]]]:
    """Payload buttons (labels per locale) going / maybe / not going."""
    row = []
    for answer, icon in ANSWER_ICONS.items():
        labels = in_locales(i18n, functools.partial(_answer_button, answer, icon))
        row.append(
            {"text": labels, "callback_data": RsvpCb(event_id=event_id, answer=answer).pack()}
        )
    return [row]


def _answer_button(answer: Answer, icon: str, _locale: str) -> str:
    return f"{icon} {ANSWER_LABELS[answer]}"


def _payload(
    texts: dict[str, str], file_id: str | None, buttons: list[list[dict[str, Any]]] | None
) -> dict[str, Any]:
    if file_id:
        payload: dict[str, Any] = {
            "method": "send_document",
            "params": {"document": file_id, "caption": texts.get("en", "")},
            "locales": {loc: {"caption": text} for loc, text in texts.items()},
        }
    else:
        payload = {
            "method": "send_message",
            "params": {"text": texts.get("en", "")},
            "locales": {loc: {"text": text} for loc, text in texts.items()},
        }
    if buttons:
        payload["buttons"] = buttons
    return payload


def announcement_text(card: Card, locale: str, *, limit: int = CAPTION_MAX) -> str:
    return card_text(card, locale, footer=_("Will you come?"), limit=limit)


def update_text(card: Card, before: Card | None, locale: str, *, limit: int) -> str:
    header = _("✏️ <b>Changed</b>")
    notes = []
    if before is not None and (before.starts_at, before.ends_at) != (
        card.starts_at,
        card.ends_at,
    ):
        notes.append(
            _("Was: {when}").format(
                when=when_text(before.starts_at, before.ends_at, before.timezone, locale)
            )
        )
    if before is not None and before.place != card.place:
        notes.append(_("Was at: {place}").format(place=escape(before.place)))
    footer = "\n".join([*notes, _("Does your answer still hold?")])
    return card_text(card, locale, header=header, footer=footer, limit=limit)


def cancel_text(card: Card, locale: str, *, limit: int) -> str:
    return card_text(
        card,
        locale,
        header=_("❌ <b>Cancelled</b>"),
        footer=_("This event will not take place."),
        limit=limit,
    )


def reminder_text(card: Card, group: str, locale: str, now: datetime) -> str:
    left = format_timedelta(card.starts_at - now, add_direction=False, locale=locale)
    header = _("⏰ <b>Reminder</b>: starts in {time}.").format(time=left)
    if group == Answer.GOING:
        footer = _("You said you will come. See you there!")
    elif group == Answer.MAYBE:
        footer = _("You answered “maybe”. Will you come?")
    else:
        footer = _("Will you come?")
    return card_text(card, locale, header=header, footer=footer)


def _reminder_in(card: Card, group: str, now: datetime, locale: str) -> str:
    return reminder_text(card, group, locale, now)


def answer_line(answer: str | None) -> str:
    if answer is None:
        return _("Your answer: not yet given.")
    return _("Your answer: {answer}.").format(answer=answer_label(answer))


EXAMPLE_HOUR = 17  # the hour in examples of a date and time


def zone_label(tz_name: str, locale: str) -> str:
    return str(get_timezone_location(ZoneInfo(tz_name), locale=locale))


def example_datetime(tz_name: str) -> str:
    tomorrow = (utcnow().astimezone(ZoneInfo(tz_name)) + timedelta(days=1)).date()
    return f"{tomorrow.isoformat()} {EXAMPLE_HOUR}:00"


def problem_text(exc: EventError, tz_name: str | None = None, *, step: str = "") -> str:
    """What to tell the person about a refused value or action."""
    problem = exc.problem
    if problem == Problem.FORMAT:
        if step == "time":
            return _("Please type the time as HH:MM, for example 17:00.")
        if step == "end":
            return _(
                "Please type the end time as HH:MM, a length such as 90 (minutes), "
                "2 (hours), 1h30 or 1.5h, or the end date and time as YYYY-MM-DD HH:MM."
            )
        return _(
            "Please type the date and time as YYYY-MM-DD HH:MM, for example {example}."
        ).format(example=example_datetime(tz_name or "UTC"))
    if problem == Problem.NONEXISTENT:
        wall = exc.details.get("wall")
        return _(
            "{time} does not exist in {zone}: the clocks change that night. "
            "Please choose another time."
        ).format(
            time=wall.strftime("%Y-%m-%d %H:%M") if isinstance(wall, datetime) else "",
            zone=zone_label(tz_name or "UTC", _locale()),
        )
    simple = {
        Problem.PAST: _("This time has already passed. Please choose a time in the future."),
        Problem.TOO_FAR: _("Please choose a date within the next year."),
        Problem.END_BEFORE_START: _("The end must be after the start. Please try again."),
        Problem.TOO_LONG: _("An event can last at most 7 days. Please try again."),
        Problem.TEXT_EMPTY: _("Please type it as ordinary text, on one line."),
        Problem.OFFSETS: _(
            "Please send up to {n} times between 1 minute and 14 days, such as "
            "<code>1d 3h 30m</code>, or <code>none</code> for no reminders."
        ).format(n=MAX_OFFSETS),
        Problem.CANCELLED: _("This event was cancelled."),
        Problem.STARTED: _("This event has already started; it can no longer be changed."),
        Problem.OVER: _("This event is over."),
        Problem.NOT_STARTED: _("Attendance can be marked once the event has started."),
        Problem.CHANGED: _("Someone else changed this event meanwhile. Please open it again."),
    }
    if problem == Problem.TEXT_TOO_LONG:
        return _("That is {length} characters; please keep it to {limit}.").format(
            length=exc.details.get("length", 0), limit=exc.details.get("limit", 0)
        )
    return simple.get(problem, _("Please try again."))


def _locale() -> str:
    from aiogram.utils.i18n import get_i18n

    return get_i18n().current_locale
