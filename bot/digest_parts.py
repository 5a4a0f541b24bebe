"""What the weekly digests are made of, shared by the networks' renderer (bot/digest_render.py)
and the admins' part (bot/digest_admin.py): one network's digest data, the limits, and the
small formatting helpers. Every line is HTML on its own, so a text over Telegram's 4,096
characters is cut at a line (`fit`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.dates import format_interval, format_skeleton, format_time
from babel.numbers import format_percent

from bot.text.formats import fmt_number, utf16_len
from bot.text.labels import join_list
from storage.models import Network, Role
from storage.models.events import Answer
from storage.repositories.digests import CHART_WEEKS, MemberRow, NetworkFigures, Window

TEXT_MAX = 4096
CAPTION_MAX = 1024
NAMES_MAX = 15  # names per list in the coordinators' part
NAME_CHARS = 32
EVENTS_MAX = 6
BROADCASTS_MAX = 5
PREVIEW_CHARS = 80
PLAN_LINES = 8  # actions under way in the coordinators' plan part
ACTION_STATUSES = ("under_way", "planned", "done", "dropped")
ADMIN_LINES = 10  # networks listed in the admins' message (all are in the spreadsheet)
ANSWERS = (Answer.GOING.value, Answer.MAYBE.value, Answer.NO.value)


@dataclass(slots=True)
class NetworkDigest:
    """One network's digest data: its window, figures and everyone's answers."""

    network: Network
    week: date
    window: Window
    figures: NetworkFigures
    answers: Mapping[tuple[int, int], str]

    @property
    def coordinators(self) -> list[MemberRow]:
        return [m for m in self.figures.members if m.role == Role.COORDINATOR]

    @property
    def members_only(self) -> list[MemberRow]:
        return [m for m in self.figures.members if m.role == Role.MEMBER]

    def reporters(self) -> list[MemberRow]:
        done = self.figures.reports_by_author
        return [m for m in self.members_only if m.user_id in done]

    def weekly(self) -> list[tuple[date, int]]:
        """(first day, activities) of each of the chart's weeks, oldest first."""
        out = []
        for k in range(CHART_WEEKS):
            first = self.window.chart_start + timedelta(days=7 * k)
            total = sum(self.figures.daily.get(first + timedelta(days=i), 0) for i in range(7))
            out.append((first, total))
        return out



num = functools.lru_cache(maxsize=4096)(fmt_number)


def sep(locale: str) -> str:
    """The separator of a list of items: the Arabic comma in Arabic."""
    return "، " if locale == "ar" else ", "


def percent(value: float | None, locale: str) -> str:
    return "–" if value is None else format_percent(value, locale=locale)


def period_text(window: Window, locale: str) -> str:
    return format_interval(window.start, window.end, "yMMMd", locale=locale)


def when_text(moment: datetime, tz: ZoneInfo, locale: str) -> str:
    local = moment.astimezone(tz)
    day = format_skeleton("MMMEd", local, locale=locale)
    return day + sep(locale) + format_time(local, "short", tzinfo=tz, locale=locale)


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def person(m: MemberRow) -> str:
    return escape(short(m.name, NAME_CHARS)) if m.name else _("(no name)")


def names(people: Sequence[MemberRow], locale: str) -> str:
    shown = sorted(people, key=lambda m: ((m.name or "").casefold(), m.user_id))
    items = [person(m) for m in shown[:NAMES_MAX]]
    if len(shown) > NAMES_MAX:
        rest = len(shown) - NAMES_MAX
        items.append(_("{n} more", "{n} more", rest).format(n=num(rest, locale)))
    return join_list(items, locale)


def fit(text: str, limit: int = TEXT_MAX) -> str:
    """Cut at a line so the text stays within Telegram's limit (each line is whole HTML)."""
    if utf16_len(text) <= limit:
        return text
    lines = text.split("\n")
    while lines and utf16_len("\n".join(lines)) + 2 > limit:
        lines.pop()
    return "\n".join(lines) + "\n…"
