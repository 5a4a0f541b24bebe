"""Texts, chart and spreadsheet of the weekly digests, from aggregates, without the
database. Parts of a text are rendered once per network, language and variant and then
put together (`Renderer` caches them). Every line is HTML on its own, so a text over
Telegram's 4,096 characters is cut at a line."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_interval, format_skeleton, format_time
from babel.numbers import format_percent

from bot import charts
from bot.text.formats import fmt_number, utf16_len
from bot.text.labels import activity_label, answer_label, join_list, sector_label
from storage.models import Network, Role
from storage.models.events import Answer
from storage.repositories.digests import (
    CHART_WEEKS,
    BroadcastRow,
    EventRow,
    MemberRow,
    NetworkFigures,
    Window,
)

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


@dataclass(frozen=True, slots=True)
class AdminRow:
    """One network's line of the admins' digest and spreadsheet."""

    network: Network
    members: int
    active: int  # members who reported in the last seven days
    activities: int
    participants: int
    events_held: int
    broadcasts: int
    to_review: int
    blocked: int
    actions: Mapping[str, int] = field(default_factory=dict)  # plan: status -> actions

    @property
    def rate(self) -> float | None:
        return self.active / self.members if self.members else None


def admin_row(d: NetworkDigest) -> AdminRow:
    f = d.figures
    members = d.members_only
    return AdminRow(
        network=d.network,
        members=len(members),
        active=len(d.reporters()),
        activities=f.activities,
        participants=f.participants,
        events_held=f.events_held,
        broadcasts=len(f.broadcasts),
        to_review=f.to_review,
        blocked=sum(1 for m in f.members if m.unreachable),
        actions=dict(f.actions),
    )


# ---------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------- renderer


class Renderer:
    """Renders digests; caches each part by network, language and variant."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n
        self._cache: dict[tuple[Any, ...], str] = {}

    @contextmanager
    def locale(self, locale: str) -> Iterator[None]:
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield

    def _part(self, key: tuple[Any, ...], locale: str, make: Any) -> str:
        value = self._cache.get(key)
        if value is None:
            with self.locale(locale):
                value = self._cache[key] = make()
        return value

    # ----------------------------------------------------------------- networks

    def text(
        self, d: NetworkDigest, locale: str, member: MemberRow | None, coordinator: bool
    ) -> str:
        """The digest as ``member`` sees it (None: anyone, without own answers)."""
        f = d.figures
        upcoming = f.upcoming[:EVENTS_MAX]
        if member is None:
            own: tuple[str | None, ...] | None = None
            seen = tuple(b.id for b in f.broadcasts if b.roles is None and b.sectors is None)
        else:
            own = tuple(d.answers.get((e.id, member.user_id)) for e in upcoming)
            seen = tuple(
                b.id for b in f.broadcasts if coordinator or b.reaches(member.role, member.sector)
            )
        key = (d.network.id, d.week, locale, coordinator, own, seen)
        text = self._cache.get(key)
        if text is None:
            net = d.network.id
            parts = [
                self._part((net, d.week, locale, "head"), locale, lambda: self._head(d, locale)),
                self._part((net, d.week, locale, "past"), locale, lambda: self._past(d, locale)),
                self._part(
                    (net, d.week, locale, "next", own), locale,
                    lambda: self._next(d, locale, own),
                ),
            ]
            if seen:
                parts.append(
                    self._part(
                        (net, d.week, locale, "bc", seen), locale,
                        lambda: self._broadcasts(d, locale, seen),
                    )
                )
            if coordinator:
                parts.append(
                    self._part(
                        (net, d.week, locale, "coord"), locale, lambda: self._coord(d, locale)
                    )
                )
                if f.plan:
                    parts.append(
                        self._part(
                            (net, d.week, locale, "plan"), locale, lambda: self._plan(d, locale)
                        )
                    )
            text = self._cache[key] = fit("\n\n".join(parts))
        return text

    def _head(self, d: NetworkDigest, locale: str) -> str:
        title = _("📰 <b>{network}</b>: weekly digest").format(network=escape(d.network.name))
        return f"{title}\n<i>{period_text(d.window, locale)}</i>"

    def _past(self, d: NetworkDigest, locale: str) -> str:
        f = d.figures
        lines = ["<b>" + _("Last 7 days") + "</b>"]
        if not f.activities:
            lines.append(_("No activity was reported."))
        else:
            lines.append(
                "📝 "
                + _("{n} activity", "{n} activities", f.activities).format(
                    n=num(f.activities, locale)
                )
                + " · 👥 "
                + _(
                    "{n} participant reached", "{n} participants reached", f.participants
                ).format(n=num(f.participants, locale))
            )
            by_type = sorted(f.by_type.items(), key=lambda kv: (-kv[1][0], kv[0]))
            lines.append(
                _("By type: {list}").format(
                    list=join_list(
                        (f"{escape(activity_label(t))} {num(c, locale)}" for t, (c, _p) in by_type),
                        locale,
                    )
                )
            )
            by_sector = sorted(f.by_sector.items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append(
                _("By sector: {list}").format(
                    list=join_list(
                        (f"{escape(sector_label(s))} {num(c, locale)}" for s, c in by_sector),
                        locale,
                    )
                )
            )
        total = len(d.members_only)
        if total:
            done = len(d.reporters())
            lines.append(
                "✍️ "
                + _(
                    "{n} of {total} member reported.",
                    "{n} of {total} members reported.",
                    total,
                ).format(n=num(done, locale), total=num(total, locale))
            )
        return "\n".join(lines)

    def _next(self, d: NetworkDigest, locale: str, own: tuple[str | None, ...] | None) -> str:
        """The next seven days; each event's lines are made once per language and only the
        reader's own answer is added per reader."""
        f = d.figures
        lines = ["<b>" + _("Next 7 days") + "</b>"]
        if not f.upcoming:
            lines.append(_("No events planned."))
            return "\n".join(lines)
        net = d.network.id
        for i, event in enumerate(f.upcoming[:EVENTS_MAX]):
            line = self._part(
                (net, d.week, locale, "event", event.id), locale,
                lambda event=event: self._event(d, event, locale),
            )
            if own is not None:
                line += self._part(
                    (locale, "own", own[i]), locale, lambda mine=own[i]: self._own(mine)
                )
            lines.append(line)
        if len(f.upcoming) > EVENTS_MAX:
            rest = len(f.upcoming) - EVENTS_MAX
            lines.append(_("… and {n} more: /events").format(n=num(rest, locale)))
        return "\n".join(lines)

    def _event(self, d: NetworkDigest, event: EventRow, locale: str) -> str:
        title = escape(short(event.title, 60))
        when = when_text(event.starts_at, ZoneInfo(d.network.timezone), locale)
        counts = " · ".join(
            f"{answer_label(a)} {num(event.counts.get(a, 0), locale)}" for a in ANSWERS
        )
        return f"📅 <b>{title}</b> · {when}\n      {counts}"

    @staticmethod
    def _own(mine: str | None) -> str:
        text = (
            _("your answer: {answer}").format(answer=answer_label(mine))
            if mine
            else _("you have not answered")
        )
        return f" · <i>{text}</i>"

    def _broadcasts(self, d: NetworkDigest, locale: str, seen: tuple[int, ...]) -> str:
        wanted = set(seen)
        items: list[BroadcastRow] = [b for b in d.figures.broadcasts if b.id in wanted]
        lines = ["<b>" + _("Broadcasts of the week") + "</b>"]
        lines += ["📣 " + escape(short(b.preview, PREVIEW_CHARS)) for b in items[:BROADCASTS_MAX]]
        if len(items) > BROADCASTS_MAX:
            rest = len(items) - BROADCASTS_MAX
            lines.append(_("… and {n} more.").format(n=num(rest, locale)))
        return "\n".join(lines)

    def _coord(self, d: NetworkDigest, locale: str) -> str:
        f = d.figures
        members = d.members_only
        done = d.reporters()
        missing = [m for m in members if m.user_id not in f.reports_by_author]
        lines = ["<b>" + _("For coordinators") + "</b>"]
        if done:
            lines.append(
                "✅ " + _("Reported ({n}): {names}").format(
                    n=num(len(done), locale), names=names(done, locale)
                )
            )
        if missing:
            lines.append(
                "⏳ " + _("Not reported yet ({n}): {names}").format(
                    n=num(len(missing), locale), names=names(missing, locale)
                )
            )
        elif members:
            lines.append("✅ " + _("Every member reported this week."))
        if f.to_review:
            lines.append(
                "🗂 " + _(
                    "{n} report to review: /reports", "{n} reports to review: /reports",
                    f.to_review,
                ).format(n=num(f.to_review, locale))
            )
        blocked = [m for m in f.members if m.unreachable]
        if blocked:
            lines.append(
                "🚫 " + _(
                    "{n} member blocked the bot: {names}",
                    "{n} members blocked the bot: {names}",
                    len(blocked),
                ).format(n=num(len(blocked), locale), names=names(blocked, locale))
            )
        return "\n".join(lines)

    def _plan(self, d: NetworkDigest, locale: str) -> str:
        """The actions under way: reports and participants so far, milestones overdue or
        due within the week."""
        plan = d.figures.plan
        lines = ["<b>" + _("Action plan") + "</b>"]
        for row in plan[:PLAN_LINES]:
            figures = [
                _("{n} report", "{n} reports", row.reports).format(n=num(row.reports, locale)),
                _("{n} participant", "{n} participants", row.participants).format(
                    n=num(row.participants, locale)
                ),
            ]
            if row.overdue:
                figures.append(
                    _("{n} milestone overdue", "{n} milestones overdue", row.overdue).format(
                        n=num(row.overdue, locale)
                    )
                )
            if row.due_soon:
                figures.append(
                    _("{n} milestone due this week", "{n} milestones due this week",
                      row.due_soon).format(n=num(row.due_soon, locale))
                )
            lines.append(
                f"▶️ {escape(short(row.title, 60))}: " + sep(locale).join(figures)
            )
        if len(plan) > PLAN_LINES:
            rest = len(plan) - PLAN_LINES
            lines.append(_("… and {n} more: /plan").format(n=num(rest, locale)))
        return "\n".join(lines)

    @staticmethod
    def actions_text(actions: Mapping[str, int], locale: str) -> str:
        """A network's actions by status (current locale), "" without a plan."""
        if not any(actions.values()):
            return ""
        return _(
            "actions: {under_way} under way, {planned} planned, {done} done, {dropped} dropped"
        ).format(**{s: num(actions.get(s, 0), locale) for s in ACTION_STATUSES})

    # -------------------------------------------------------------------- chart

    def chart(self, d: NetworkDigest, locale: str) -> bytes:
        weeks = d.weekly()
        with self.locale(locale):
            title = _("Activities per week: {network}").format(network=d.network.name)
        return charts.bar_chart(
            [format_skeleton("MMMd", first, locale=locale) for first, _n in weeks],
            [n for _first, n in weeks],
            value_labels=[num(n, locale) for _first, n in weeks],
            title=title,
            locale=locale,
        )

    def chart_caption(self, d: NetworkDigest, locale: str) -> str:
        with self.locale(locale):
            return _("📊 Activities per week in <b>{network}</b>, last eight weeks.").format(
                network=escape(d.network.name)
            )

    # -------------------------------------------------------------------- admins

    def admin_text(self, rows: Sequence[AdminRow], window: Window, locale: str) -> str:
        with self.locale(locale):
            members = sum(r.members for r in rows)
            active = sum(r.active for r in rows)
            activities = sum(r.activities for r in rows)
            people = sum(r.participants for r in rows)
            held = sum(r.events_held for r in rows)
            sent = sum(r.broadcasts for r in rows)
            lines = [
                _("🌐 <b>All networks</b>: weekly digest"),
                f"<i>{period_text(window, locale)}</i>",
                "",
                _("{n} network", "{n} networks", len(rows)).format(n=num(len(rows), locale))
                + " · "
                + _("{n} member, {active} active", "{n} members, {active} active", members)
                .format(n=num(members, locale), active=num(active, locale)),
                "📝 "
                + _("{n} activity", "{n} activities", activities).format(n=num(activities, locale))
                + " · 👥 "
                + _("{n} participant reached", "{n} participants reached", people).format(
                    n=num(people, locale)
                ),
                "📅 "
                + _("{n} event held", "{n} events held", held).format(n=num(held, locale))
                + " · 📣 "
                + _("{n} broadcast", "{n} broadcasts", sent).format(n=num(sent, locale)),
                "✍️ "
                + _("Reporting rate: {rate}").format(
                    rate=percent(active / members if members else None, locale)
                ),
            ]
            if rows:
                lines += [
                    "",
                    "<b>" + _("By network") + "</b> <i>("
                    + _("activities · participants · reporting rate") + ")</i>",
                ]
                ranked = sorted(rows, key=lambda r: (-r.activities, r.network.name))
                for r in ranked[:ADMIN_LINES]:
                    name = escape(short(r.network.name, 40))
                    figures = " · ".join(
                        (num(r.activities, locale), num(r.participants, locale),
                         percent(r.rate, locale))
                    )
                    plan = self.actions_text(r.actions, locale)
                    lines.append(f"• {name}: {figures}" + (f" · 🎯 {plan}" if plan else ""))
                if len(rows) > ADMIN_LINES:
                    rest = len(rows) - ADMIN_LINES
                    lines.append(
                        _(
                            "… and {n} more network in the spreadsheet.",
                            "… and {n} more networks in the spreadsheet.",
                            rest,
                        ).format(n=num(rest, locale))
                    )
            return fit("\n".join(lines))

    def admin_caption(self, window: Window, locale: str) -> str:
        with self.locale(locale):
            return _("📎 All networks, {period}: the figures of each network.").format(
                period=period_text(window, locale)
            )

    def admin_xlsx(self, rows: Sequence[AdminRow], window: Window, locale: str) -> bytes:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        from bot.export import protect_cell  # network names are typed: never a formula

        with self.locale(locale):
            headers = [
                _("Network"), _("Country"), _("Members"), _("Active members"),
                _("Activities"), _("Participants"), _("Events held"), _("Broadcasts"),
                _("Reporting rate"), _("Reports to review"), _("Blocked the bot"),
                _("Actions under way"), _("Actions planned"), _("Actions done"),
                _("Actions dropped"),
            ]
            title = _("Digest {start} to {end}").format(
                start=window.start.isoformat(), end=window.end.isoformat()
            )
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = title[:31].replace(":", " ").replace("/", "-")
        if locale in charts.RTL_LOCALES:
            sheet.sheet_view.rightToLeft = True
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for r in sorted(rows, key=lambda r: r.network.name.casefold()):
            sheet.append(
                [
                    r.network.name, r.network.country, r.members, r.active, r.activities,
                    r.participants, r.events_held, r.broadcasts, r.rate, r.to_review, r.blocked,
                    *(r.actions.get(s, 0) for s in ACTION_STATUSES),
                ]
            )
            sheet.cell(row=sheet.max_row, column=9).number_format = "0%"
        for cell in (c for row in sheet.iter_rows() for c in row):
            protect_cell(cell)
        for column, width in zip("ABCDEFGHIJKLMNO",
                                 (28, 8, 10, 12, 10, 12, 10, 10, 12, 14, 12, 12, 12, 12, 12),
                                 strict=True):
            sheet.column_dimensions[column].width = width
        sheet.freeze_panes = "A2"
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
