"""Texts and chart of the networks' weekly digests, from aggregates, without the database.
Parts of a text are rendered once per network, language and variant and then put together
(`Renderer` caches them); the admins' part is bot/digest_admin.py, the data and helpers
bot/digest_parts.py."""

from __future__ import annotations

from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from bot import charts
from bot.digest_admin import AdminParts
from bot.digest_parts import (
    ANSWERS,
    BROADCASTS_MAX,
    EVENTS_MAX,
    PLAN_LINES,
    PREVIEW_CHARS,
    NetworkDigest,
    fit,
    names,
    num,
    period_text,
    sep,
    short,
    when_text,
)
from bot.text.labels import activity_label, answer_label, join_list, sector_label
from storage.repositories.digests import BroadcastRow, EventRow, MemberRow

# --------------------------------------------------------------------------- renderer


class Renderer(AdminParts):
    """Renders digests; caches each part by network, language and variant."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n
        self._cache: dict[tuple[Any, ...], str] = {}

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
