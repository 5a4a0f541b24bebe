"""The dashboard's figures: this week at a glance, participation, events, trends.

"This week" is the digest's week (bot/services/digests: the seven local days ending
today), counted by the digest's own collectors, so the dashboard and the digest agree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.dashboard.scope import DashboardError, Scope, Viewer, local_iso, network_ref
from bot.services.digests.weeks import window_for, zone
from bot.text.labels import activity_label, event_kind_label, role_label
from bot.text.times import network_zone
from storage.models import Network, Role
from storage.models.events import Answer
from storage.models.reports import ActivityType
from storage.repositories import dashboard as repo
from storage.repositories.dashboard import EventLine

UPCOMING_SHOWN = 3  # on the overview
EVENTS_SHOWN = 20  # each of upcoming and past on the events screen
TREND_WEEKS = (8, 26, 52)
PARTICIPATION_WEEKS = range(1, 53)
SILENT_DAYS = 7  # a member with no report dated in the last seven days is silent


async def _week_figures(
    session: AsyncSession, scope: Scope, now: datetime, members: dict[int, int]
) -> dict[str, Any]:
    """The week ending ``now`` as the digest counts it: the digest's own windows and
    conditions (bot/services/digests), two statements instead of a whole digest."""
    windows = {n.id: window_for(zone(n), now) for n in scope.networks}
    rows = (await repo.week_totals(session, windows, members)).values()
    members_n = sum(r.members for r in rows)
    reporters = sum(r.reporters for r in rows)
    return {
        "activities": sum(r.activities for r in rows),
        "participants": sum(r.participants for r in rows),
        "reporters": reporters,
        "members": members_n,
        "rate": round(reporters / members_n, 4) if members_n else 0,
    }


async def overview(session: AsyncSession, scope: Scope, now: datetime) -> dict[str, Any]:
    today = scope.today(now)
    members = await repo.member_counts(session, scope.ids)
    current = await _week_figures(session, scope, now, members)
    previous = await _week_figures(session, scope, now - timedelta(days=7), members)
    upcoming = await repo.events(
        session, scope.ids, upcoming=True, now=now, limit=UPCOMING_SHOWN
    )
    return {
        "network": None if scope.all else network_ref(scope.networks[0]),
        "week": {
            "start": (today - timedelta(days=6)).isoformat(),
            "end": today.isoformat(),
        },
        **current,
        "previous": {
            key: previous[key] for key in ("activities", "participants", "reporters", "rate")
        },
        "upcoming": [event_json(line, scope) for line in upcoming],
    }


def event_json(line: EventLine, scope: Scope) -> dict[str, Any]:
    e = line.event
    network = scope.by_id().get(e.network_id)
    return {
        "id": e.id,
        "title": e.title,
        "kind": e.kind,
        "kind_label": event_kind_label(e.kind),
        "starts_at": local_iso(e.starts_at, network),
        "ends_at": local_iso(e.ends_at, network),
        "place": e.place,
        "going": line.answers.get(Answer.GOING, 0),
        "maybe": line.answers.get(Answer.MAYBE, 0),
        "not_going": line.answers.get(Answer.NO, 0),
        "attended": line.attended if line.marked else None,
        "no_shows": line.no_shows if line.marked else None,
        "network": network_ref(network) if network is not None else None,
    }


async def events(session: AsyncSession, scope: Scope, now: datetime) -> dict[str, Any]:
    upcoming = await repo.events(session, scope.ids, upcoming=True, now=now, limit=EVENTS_SHOWN)
    past = await repo.events(session, scope.ids, upcoming=False, now=now, limit=EVENTS_SHOWN)
    return {
        "upcoming": [event_json(line, scope) for line in upcoming],
        "past": [event_json(line, scope) for line in past],
    }


def weeks_param(value: str | None, allowed: tuple[int, ...] | range, default: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or int(value) not in allowed:
        raise DashboardError(400, "bad_request")
    return int(value)


async def participation(
    session: AsyncSession, scope: Scope, now: datetime, weeks: int
) -> dict[str, Any]:
    today = scope.today(now)
    start = today - timedelta(days=7 * weeks - 1)
    events_from = now - timedelta(days=7 * weeks)
    people = await repo.active_members(session, scope.ids)
    records = await repo.records(
        session,
        scope.ids,
        since=start,
        until=today,
        events_from=events_from,
        events_until=now,
    )
    held = await repo.event_counts(session, scope.ids, events_from, now)
    networks = scope.by_id()
    silent_since = today - timedelta(days=SILENT_DAYS - 1)
    out = []
    for m in people:
        rec = records.get((m.network_id, m.user_id)) or repo.Record()
        answered = sum(rec.answers.values())
        network = networks[m.network_id]
        nudged_today = nudged_on_day(rec.nudged_at, network, now)
        out.append(
            {
                "id": m.membership_id,
                "name": m.name or "",
                "role": m.role,
                "role_label": role_label(m.role),
                "last_report": rec.last_report.isoformat() if rec.last_report else None,
                "reports": rec.reports,
                "rsvp": {
                    "going": rec.answers.get(Answer.GOING, 0),
                    "maybe": rec.answers.get(Answer.MAYBE, 0),
                    "not_going": rec.answers.get(Answer.NO, 0),
                    "no_answer": max(0, held.get(m.network_id, 0) - answered),
                },
                "attended": rec.attended,
                "silent": is_silent(m.role, rec.last_report, silent_since),
                "nudged_today": nudged_today,
                "unreachable": m.unreachable,
                "network": network_ref(network),
            }
        )
    return {"period": {"start": start.isoformat(), "end": today.isoformat()}, "members": out}


def nudged_on_day(nudged_at: datetime | None, network: Network, now: datetime) -> bool:
    """Nudged today, in the network's time zone (a member is nudged once a day)."""
    if nudged_at is None:
        return False
    zone = network_zone(network)
    return nudged_at.astimezone(zone).date() == now.astimezone(zone).date()


def is_silent(role: str, last_report: date | None, silent_since: date) -> bool:
    """A member (not a coordinator) with no report dated in the last SILENT_DAYS days."""
    return role == Role.MEMBER and (last_report is None or last_report < silent_since)


def activity_types() -> list[dict[str, str]]:
    return [{"key": t.value, "label": activity_label(t.value)} for t in ActivityType]


async def trends(session: AsyncSession, scope: Scope, now: datetime, weeks: int) -> dict[str, Any]:
    """Activities and participants per week (the digest's weeks: seven days ending today,
    and the weeks before), oldest first, empty weeks included."""
    today = scope.today(now)
    first = today - timedelta(days=7 * weeks - 1)
    activities = [0] * weeks
    participants = [0] * weeks
    by_type: list[dict[str, int]] = [{} for _ in range(weeks)]
    for day, kind, n, people in await repo.activity_by_day(session, scope.ids, first, today):
        k = (day - first).days // 7
        activities[k] += n
        participants[k] += people
        by_type[k][kind] = by_type[k].get(kind, 0) + n
    slots = [
        {
            "start": (first + timedelta(days=7 * k)).isoformat(),
            "activities": activities[k],
            "participants": participants[k],
            "by_type": by_type[k],
        }
        for k in range(weeks)
    ]
    return {"weeks": slots, "types": activity_types()}


def session_json(viewer: Viewer, networks: list[Network]) -> dict[str, Any]:
    actor = viewer.actor
    name = (actor.user.display_name if actor.user else None) or ""
    return {
        "user": {"name": name, "locale": viewer.locale, "dir": viewer.dir},
        "role": "admin" if actor.is_admin else "coordinator",
        "networks": [
            {"id": n.id, "name": n.name, "timezone": n.timezone} for n in networks
        ],
        "can_all": actor.is_admin,
    }
