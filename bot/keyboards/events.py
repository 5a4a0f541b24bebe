"""Inline keyboards of events and their settings. Labels are translated at build time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_date

from bot.callbacks import (
    AttendCb,
    DigestSetCb,
    EventCb,
    FbViewCb,
    NewEventCb,
    OffsetCb,
    RepSetCb,
    RsvpCb,
)
from bot.text.labels import ANSWER_ICONS, ANSWER_LABELS, EVENT_KIND_LABELS
from storage.repositories.events import Person

START_HOURS = ("0900", "1000", "1100", "1400", "1600", "1700", "1800")
LENGTHS = (60, 90, 120, 180, 240)  # minutes
OFFSET_PRESETS = (7 * 1440, 2 * 1440, 1440, 180, 60, 30, 10)  # minutes
DAYS_OFFERED = 8  # today and the next seven days
LABEL_MAX = 40
ATTENDANCE_MAX = 60  # names on one keyboard (Telegram allows 100 buttons)


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def kinds() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind, label in EVENT_KIND_LABELS.items():
        kb.button(text=str(label), callback_data=NewEventCb(step="kind", value=kind.value))
    kb.adjust(3)
    return kb.as_markup()


def days(tz: ZoneInfo, now: datetime, locale: str) -> InlineKeyboardMarkup:
    today = now.astimezone(tz).date()
    kb = InlineKeyboardBuilder()
    for n in range(DAYS_OFFERED):
        day = today + timedelta(days=n)
        kb.button(text=_day_label(day, n, locale), callback_data=NewEventCb(
            step="day", value=day.isoformat()
        ))
    kb.adjust(2)
    return kb.as_markup()


def _day_label(day: date, n: int, locale: str) -> str:
    if n == 0:
        return _("Today")
    if n == 1:
        return _("Tomorrow")
    return format_date(day, "EEE d MMM", locale=locale)


def hours() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for value in START_HOURS:
        kb.button(text=f"{value[:2]}:{value[2:]}", callback_data=NewEventCb(
            step="hour", value=value
        ))
    kb.adjust(4)
    return kb.as_markup()


def lengths(label: Iterable[tuple[int, str]]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for minutes, text in label:
        kb.button(text=text, callback_data=NewEventCb(step="len", value=str(minutes)))
    kb.adjust(3)
    return kb.as_markup()


def skip() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("No description"), callback_data=NewEventCb(step="skip"))
    return kb.as_markup()


def confirm() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📣 Announce"), callback_data=NewEventCb(step="confirm", value="1"))
    kb.button(text=_("Discard"), callback_data=NewEventCb(step="confirm", value="0"))
    kb.adjust(2)
    return kb.as_markup()


def _rsvp_row(kb: InlineKeyboardBuilder, event_id: int, chosen: str | None) -> None:
    for answer, icon in ANSWER_ICONS.items():
        label = f"{icon} {ANSWER_LABELS[answer]}"
        if chosen == answer:
            label = f"✓ {label}"
        kb.button(text=label, callback_data=RsvpCb(event_id=event_id, answer=answer))


def rsvp(event_id: int, chosen: str | None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    _rsvp_row(kb, event_id, chosen)
    kb.adjust(3)
    return kb.as_markup()


def is_event_view(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether these buttons are an event's own view (RSVP and actions), not the RSVP row
    of an announcement or a reminder: the view has buttons beyond the three answers."""
    if markup is None:
        return False
    return any(
        not (button.callback_data or "").startswith(RsvpCb.__prefix__ + RsvpCb.__separator__)
        for row in markup.inline_keyboard
        for button in row
    )


def event_actions(
    event_id: int,
    chosen: str | None,
    *,
    can_answer: bool,
    can_manage: bool,
    started: bool,
    feedback: bool = False,
) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    if can_answer:
        _rsvp_row(kb, event_id, chosen)
        sizes.append(3)
    if can_manage:
        kb.button(text=_("👥 Answers"), callback_data=EventCb(action="who", event_id=event_id))
        if started:
            kb.button(
                text=_("✔ Who came"), callback_data=EventCb(action="attend", event_id=event_id)
            )
            sizes.append(2)
        else:
            kb.button(text=_("✏️ Change"), callback_data=EventCb(action="edit", event_id=event_id))
            kb.button(
                text=_("🗑 Cancel event"), callback_data=EventCb(action="cancel", event_id=event_id)
            )
            sizes.append(3)
    if feedback:  # a training or workshop that ended: its coordinators see the answers
        kb.button(text=_("📝 Feedback"), callback_data=FbViewCb(event_id=event_id))
        sizes.append(1)
    if not sizes:
        return None
    kb.adjust(*sizes)
    return kb.as_markup()


def back(event_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("« Back"), callback_data=EventCb(action="show", event_id=event_id))
    return kb.as_markup()


def edit_menu(event_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🕔 Time"), callback_data=EventCb(action="time", event_id=event_id))
    kb.button(text=_("📍 Place"), callback_data=EventCb(action="place", event_id=event_id))
    kb.button(text=_("« Back"), callback_data=EventCb(action="show", event_id=event_id))
    kb.adjust(2, 1)
    return kb.as_markup()


def cancel_confirm(event_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("Yes, cancel the event"),
        callback_data=EventCb(action="cancel_ok", event_id=event_id),
    )
    kb.button(text=_("No, keep it"), callback_data=EventCb(action="show", event_id=event_id))
    kb.adjust(1)
    return kb.as_markup()


def attendance(event_id: int, people: Sequence[Person]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for person in people[:ATTENDANCE_MAX]:
        mark = "✅" if person.attended else "▫️"
        name = person.display_name or "#" + str(person.user_id)
        kb.button(
            text=_short(f"{mark} {name}"),
            callback_data=AttendCb(event_id=event_id, user_id=person.user_id),
        )
    kb.button(text=_("« Back"), callback_data=EventCb(action="show", event_id=event_id))
    kb.adjust(2)
    return kb.as_markup()


def listing(
    upcoming: Sequence[tuple[int, str]], to_mark: Sequence[tuple[int, str]]
) -> InlineKeyboardMarkup | None:
    """One button per event: (id, label)."""
    if not upcoming and not to_mark:
        return None
    kb = InlineKeyboardBuilder()
    for event_id, label in upcoming:
        kb.button(text=_short(label), callback_data=EventCb(action="show", event_id=event_id))
    for event_id, label in to_mark:
        kb.button(
            text=_short("✔ " + label), callback_data=EventCb(action="attend", event_id=event_id)
        )
    kb.adjust(1)
    return kb.as_markup()


def offsets(
    network_id: int, current: Sequence[int], labels: dict[int, str]
) -> InlineKeyboardMarkup:
    """Presets switched on or off, plus any other offset in use, and "type other times"."""
    kb = InlineKeyboardBuilder()
    shown = sorted(set(OFFSET_PRESETS) | set(current), reverse=True)
    for minutes in shown:
        mark = "🔔" if minutes in current else "▫️"
        kb.button(
            text=f"{mark} {labels[minutes]}",
            callback_data=OffsetCb(network_id=network_id, minutes=minutes),
        )
    kb.button(
        text=_("⌨️ Type other times"), callback_data=OffsetCb(network_id=network_id, minutes=0)
    )
    # /settings is the one place for a network's settings: the other features' screens.
    kb.button(text="📰 " + _("Weekly digest"), callback_data=DigestSetCb(network_id=network_id))
    kb.button(text="⏰ " + _("Nudge settings"), callback_data=RepSetCb(network_id=network_id))
    kb.adjust(*([2] * ((len(shown) + 1) // 2)), 1, 2)
    return kb.as_markup()
