"""Reading events (lists, answers, responses) and answering them (RSVP, attendance)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import AccessDenied, Actor
from bot.services.events.rules import ATTENDANCE_WINDOW, EventError, Problem
from storage.models.events import Answer, Event, EventStatus
from storage.repositories import events as repo
from storage.repositories import networks
from storage.repositories.events import Person


async def event_for_member(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    event = await repo.get(session, event_id)
    if event is None:
        raise AccessDenied(f"no event {event_id}")
    actor.require_member(event.network_id)
    return event


async def event_for_coordinator(session: AsyncSession, actor: Actor, event_id: int) -> Event:
    event = await repo.get(session, event_id)
    if event is None:
        raise AccessDenied(f"no event {event_id}")
    actor.require_coordinator(event.network_id)
    return event


async def visible_network_ids(session: AsyncSession, actor: Actor) -> list[int]:
    if actor.is_admin:
        return [n.id for n in await networks.list_all(session)]
    return sorted(actor.member_network_ids)


@dataclass(frozen=True, slots=True)
class Listing:
    upcoming: Sequence[Event]
    answers: dict[int, str | None]
    to_mark: Sequence[Event]  # recent events whose attendance the actor may mark


async def list_events(session: AsyncSession, actor: Actor, now: datetime) -> Listing:
    ids = await visible_network_ids(session, actor)
    upcoming = await repo.upcoming(session, ids, now)
    answers = {}
    if actor.user is not None:
        answers = await repo.answers_of_user(session, actor.user.id, [e.id for e in upcoming])
    coordinated = [i for i in ids if actor.can_coordinate(i)]
    to_mark = await repo.recent(session, coordinated, now, now - ATTENDANCE_WINDOW)
    return Listing(upcoming, answers, to_mark)


async def my_answer(session: AsyncSession, actor: Actor, event_id: int) -> str | None:
    if actor.user is None:
        return None
    return await repo.answer_of(session, event_id, actor.user.id)


@dataclass(frozen=True, slots=True)
class Responses:
    event: Event
    by_answer: dict[str, list[Person]]  # going / maybe / no / "none"
    attended: int


async def responses(session: AsyncSession, actor: Actor, event_id: int) -> Responses:
    """Who answered what (coordinators of the event's network, admins)."""
    event = await event_for_coordinator(session, actor, event_id)
    by_answer: dict[str, list[Person]] = {a.value: [] for a in Answer}
    by_answer["none"] = []
    attended = 0
    for person in await repo.people(session, event.id, event.network_id):
        by_answer[person.answer or "none"].append(person)
        attended += bool(person.attended)
    return Responses(event, by_answer, attended)


# -------------------------------------------------------------------------- RSVP


async def set_rsvp(
    session: AsyncSession, actor: Actor, event_id: int, answer: str, now: datetime
) -> Event:
    """Record or change the actor's answer. AccessDenied outside the event's network."""
    answer = Answer(answer)
    event = await event_for_member(session, actor, event_id)
    if actor.user is None:
        raise AccessDenied(f"user {actor.tg_id} is not registered")
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.ends_at <= now:
        raise EventError(Problem.OVER)
    await repo.set_answer(session, event.id, actor.user.id, answer, now)
    await session.commit()
    return event


async def toggle_attendance(
    session: AsyncSession, actor: Actor, event_id: int, user_id: int, now: datetime
) -> bool:
    """Mark (or unmark) that a member came; returns the new mark."""
    event = await event_for_coordinator(session, actor, event_id)
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.starts_at > now:
        raise EventError(Problem.NOT_STARTED)
    person = next(
        (p for p in await repo.people(session, event.id, event.network_id) if p.user_id == user_id),
        None,
    )
    if person is None:
        raise AccessDenied(f"user {user_id} is not in network {event.network_id}")
    value = not bool(person.attended)
    await repo.set_attended(session, event.id, user_id, value)
    await session.commit()
    return value
