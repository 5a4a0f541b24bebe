"""The admins' weekly digest: every network's line, a text and a spreadsheet, from the
networks' digests (bot/digest_parts.py), without the database. `Renderer`
(bot/digest_render.py) has these as methods."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import charts
from bot.digest_parts import (
    ACTION_STATUSES,
    ADMIN_LINES,
    NetworkDigest,
    fit,
    num,
    percent,
    period_text,
    short,
)
from storage.models import Network
from storage.repositories.digests import Window


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



class AdminParts:
    """The admins' part of `Renderer`, and the translation context both use."""

    i18n: I18n

    @contextmanager
    def locale(self, locale: str) -> Iterator[None]:
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield

    @staticmethod
    def actions_text(actions: Mapping[str, int], locale: str) -> str:
        """A network's actions by status (current locale), "" without a plan."""
        if not any(actions.values()):
            return ""
        return _(
            "actions: {under_way} under way, {planned} planned, {done} done, {dropped} dropped"
        ).format(**{s: num(actions.get(s, 0), locale) for s in ACTION_STATUSES})

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

