"""What coordinators and admins see of the feedback: per event, per training kind and
month, and the CSV/XLSX export.

Answers are shown and exported without names (nor pseudonyms): members are told so when
asked, and a rating of a colleague's training is more honest that way. Showing the texts
of an event and every export are audit-logged, as report exports are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.export import Sheet, to_csv, to_xlsx
from bot.services.access import Actor
from bot.services.events.queries import event_for_coordinator
from bot.services.feedback.rules import OVERVIEW_DAYS, RATINGS, RECENT_SHOWN
from bot.text.labels import event_kind_label
from storage.models.events import Event
from storage.repositories import audit, networks
from storage.repositories import feedback as repo
from storage.repositories.feedback import Answer

EXPORT_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Summary:
    asked: int
    answered: int
    average: float | None
    counts: dict[int, int]  # 1..5 -> answers
    apply: list[str]
    missing: list[str]


def summarise(rows: Sequence[Answer]) -> Summary:
    ratings = [r.usefulness for r in rows if r.usefulness is not None]
    counts = Counter(ratings)
    return Summary(
        asked=len(rows),
        answered=len(ratings),
        average=sum(ratings) / len(ratings) if ratings else None,
        counts={n: counts.get(n, 0) for n in RATINGS},
        apply=[r.apply_text for r in rows if r.apply_text],
        missing=[r.missing_text for r in rows if r.missing_text],
    )


def _actor_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


async def event_results(
    session: AsyncSession, actor: Actor, event_id: int
) -> tuple[Event, Summary]:
    """One event's answers (its network's coordinators, admins); audit-logged."""
    event = await event_for_coordinator(session, actor, event_id)
    summary = summarise(await repo.answers_of_event(session, event.id))
    if summary.asked:
        await audit.record(
            session,
            "feedback_view",
            actor_id=_actor_id(actor),
            network_id=event.network_id,
            event_id=event.id,
        )
        await session.commit()
    return event, summary


async def scope(session: AsyncSession, actor: Actor) -> list[int] | None:
    """The networks whose feedback the actor sees: None for all (admins)."""
    if actor.is_admin:
        return None
    return sorted(actor.coordinated_network_ids)


@dataclass(frozen=True)
class MonthLine:
    month: date  # the first day of the month
    kind: str
    events: int
    summary: Summary


@dataclass(frozen=True)
class EventLine:
    event_id: int
    title: str
    network: str
    starts_at: datetime
    timezone: str
    summary: Summary


@dataclass(frozen=True)
class Overview:
    months: list[MonthLine]  # latest month first, then by kind
    recent: list[EventLine]  # latest first
    networks: int  # how many networks the figures cover


def _local(row: Answer) -> datetime:
    return row.starts_at.astimezone(ZoneInfo(row.timezone))


async def overview(session: AsyncSession, actor: Actor, now: datetime) -> Overview:
    """Per training kind and month, and the latest events, over the actor's networks."""
    ids = await scope(session, actor)
    rows = await repo.answers_in(session, ids, now - timedelta(days=OVERVIEW_DAYS))
    by_month: dict[tuple[date, str], list[Answer]] = {}
    by_event: dict[int, list[Answer]] = {}
    for row in rows:
        first = _local(row).date().replace(day=1)
        by_month.setdefault((first, row.kind), []).append(row)
        by_event.setdefault(row.event_id, []).append(row)
    ordered = sorted(by_month.items(), key=lambda kv: (-kv[0][0].toordinal(), kv[0][1]))
    months = [
        MonthLine(month, kind, len({r.event_id for r in group}), summarise(group))
        for (month, kind), group in ordered
    ]
    events = sorted(by_event.values(), key=lambda g: (g[0].starts_at, g[0].event_id), reverse=True)
    recent = [
        EventLine(g[0].event_id, g[0].title, g[0].network_name, g[0].starts_at, g[0].timezone,
                  summarise(g))
        for g in events[:RECENT_SHOWN]
    ]
    count = len(await networks.list_all(session)) if ids is None else len(ids)
    return Overview(months, recent, count)


@dataclass(frozen=True)
class Export:
    files: dict[str, bytes]
    name: str  # the file name without its extension
    count: int


def export_sheet(rows: Sequence[Answer], locale: str) -> Sheet:
    headers = [
        _("Network"),
        _("Event"),
        _("Kind"),
        _("Date"),
        _("Usefulness (1-5)"),
        _("What they will apply"),
        _("What was missing"),
        _("Asked at"),
        _("Answered at"),
    ]
    body = []
    for r in rows:
        tz = ZoneInfo(r.timezone)
        body.append([
            r.network_name,
            r.title,
            event_kind_label(r.kind),
            _local(r).date(),
            r.usefulness,
            r.apply_text or None,
            r.missing_text or None,
            r.asked_at.astimezone(tz).replace(tzinfo=None),
            r.answered_at.astimezone(tz).replace(tzinfo=None) if r.answered_at else None,
        ])
    return Sheet(
        title=_("Training feedback"), headers=headers, rows=body, rtl=locale == "ar",
        wrap=frozenset({5, 6}),
    )


async def export_feedback(
    session: AsyncSession, actor: Actor, event_id: int, locale: str, now: datetime
) -> Export:
    """CSV and XLSX of one event's feedback (``event_id``), or of all the actor's networks
    (0). No names in them. Audit-logged."""
    if event_id:
        event = await event_for_coordinator(session, actor, event_id)
        rows = await repo.answers_of_event(session, event.id)
        network_id: int | None = event.network_id
        name = f"feedback-{event.network.slug}-event-{event.id}"
    else:
        ids = await scope(session, actor)
        rows = await repo.answers_in(session, ids)
        network_id = ids[0] if ids is not None and len(ids) == 1 else None
        name = f"feedback-{now.date().isoformat()}"
    sheet = export_sheet(rows, locale)
    files = {"csv": to_csv(sheet), "xlsx": to_xlsx(sheet)}
    await audit.record(
        session,
        "feedback_export",
        actor_id=_actor_id(actor),
        network_id=network_id,
        event_id=event_id or None,
        rows=len(rows),
        formats=list(EXPORT_FORMATS),
        at=now.isoformat(),
    )
    await session.commit()
    return Export(files, name, len(rows))
