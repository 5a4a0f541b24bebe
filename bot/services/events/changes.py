"""Changing or cancelling an event; those who answered are told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.events.calendar import _actor_user_id, _file_id, _recipients, upload_ics
from bot.services.events.queries import event_for_coordinator
from bot.services.events.reminders import plan_reminders
from bot.services.events.rules import (
    CAPTION_MAX,
    PLACE_MAX,
    TEXT_MAX,
    EventError,
    Problem,
    check_start,
    clean_text,
)
from bot.services.events.texts import (
    Card,
    _payload,
    cancel_text,
    in_locales,
    rsvp_buttons,
    update_text,
)
from storage.models.events import Answer, Event, EventStatus
from storage.repositories import audit
from storage.repositories import events as repo

if TYPE_CHECKING:
    from bot.delivery import DeliveryEngine


@dataclass(frozen=True, slots=True)
class Changed:
    event: Event
    told: int  # people who answered going or maybe, told of the change
    job_id: int | None
    changed: bool = True


async def _editable(session: AsyncSession, actor: Actor, event_id: int, now: datetime) -> Event:
    event = await event_for_coordinator(session, actor, event_id)
    if event.status == EventStatus.CANCELLED:
        raise EventError(Problem.CANCELLED)
    if event.starts_at <= now:
        raise EventError(Problem.STARTED)
    return event


async def _notify_answered(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event: Event,
    render: Callable[[str], str],
    file_id: str | None,
    *,
    buttons: bool,
) -> tuple[int, int | None]:
    people = [
        p
        for p in await repo.people(
            session, event.id, event.network_id, answers=(Answer.GOING, Answer.MAYBE)
        )
        if p.tg_id != actor.tg_id
    ]
    if not people:
        await session.commit()
        return 0, None
    texts = in_locales(i18n, render)
    job = await delivery.enqueue(  # commits the change with its notice
        session,
        kind="event_update",
        payload=_payload(texts, file_id, rsvp_buttons(i18n, event.id) if buttons else None),
        recipients=_recipients(people, event.network, i18n),
        network_id=event.network_id,
        author_id=_actor_user_id(actor),
    )
    return len(people), job.id


async def _apply_change(session: AsyncSession, event: Event, now: datetime, **values: Any) -> Event:
    """Write a change if nobody changed the event meanwhile (its SEQUENCE is the guard),
    then re-plan its reminders. EventError(CHANGED) when someone else was first."""
    if not await repo.change(session, event.id, event.sequence, **values):
        await session.rollback()
        raise EventError(Problem.CHANGED)
    fresh = await repo.get(session, event.id)
    assert fresh is not None
    await plan_reminders(session, fresh, now)
    return fresh


async def update_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event_id: int,
    *,
    chat_id: int,
    now: datetime,
    starts_at: datetime | None = None,
    place: str | None = None,
) -> Changed:
    """Move an event (its length is kept) or change its place; tell those going or maybe,
    with the calendar file again (same UID, next SEQUENCE); re-plan the reminders."""
    event = await _editable(session, actor, event_id, now)
    before = Card.of(event)
    values: dict[str, Any] = {}
    if starts_at is not None:
        check_start(starts_at, now)
        length = event.ends_at - event.starts_at
        values.update(starts_at=starts_at, ends_at=starts_at + length)
    if place is not None:
        values["place"] = clean_text(place, PLACE_MAX)
    after = Card(
        kind=event.kind,
        title=event.title,
        place=values.get("place", event.place),
        description=event.description,
        starts_at=values.get("starts_at", event.starts_at),
        ends_at=values.get("ends_at", event.ends_at),
        timezone=before.timezone,
    )
    if after == before:
        return Changed(event, 0, None, changed=False)
    sequence = event.sequence + 1
    mine = await upload_ics(
        bot,
        chat_id,
        after,
        uid=event.uid,
        sequence=sequence,
        now=now,
        caption=update_text(after, before, i18n.current_locale, limit=CAPTION_MAX),
    )
    file_id = _file_id(mine)
    event = await _apply_change(
        session, event, now, sequence=sequence, ics_file_id=file_id, updated_at=now, **values
    )
    await audit.record(
        session,
        "event_update",
        actor_id=_actor_user_id(actor),
        network_id=event.network_id,
        event_id=event.id,
        fields=sorted(values),
        sequence=sequence,
    )
    limit = CAPTION_MAX if file_id else TEXT_MAX
    told, job_id = await _notify_answered(
        session,
        delivery,
        i18n,
        actor,
        event,
        lambda loc: update_text(after, before, loc, limit=limit),
        file_id,
        buttons=True,
    )
    return Changed(event, told, job_id)


async def cancel_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    event_id: int,
    *,
    chat_id: int,
    now: datetime,
) -> Changed:
    """Call an event off: no more reminders; those going or maybe are told, with a
    cancelling calendar file (METHOD:CANCEL, same UID, next SEQUENCE)."""
    event = await _editable(session, actor, event_id, now)
    card = Card.of(event)
    sequence = event.sequence + 1
    mine = await upload_ics(
        bot,
        chat_id,
        card,
        uid=event.uid,
        sequence=sequence,
        now=now,
        caption=cancel_text(card, i18n.current_locale, limit=CAPTION_MAX),
        cancelled=True,
    )
    file_id = _file_id(mine)
    event = await _apply_change(
        session,
        event,
        now,
        sequence=sequence,
        status=EventStatus.CANCELLED,
        cancelled_at=now,
        ics_file_id=file_id,
        updated_at=now,
    )
    await audit.record(
        session,
        "event_cancel",
        actor_id=_actor_user_id(actor),
        network_id=event.network_id,
        event_id=event.id,
    )
    limit = CAPTION_MAX if file_id else TEXT_MAX
    told, job_id = await _notify_answered(
        session,
        delivery,
        i18n,
        actor,
        event,
        lambda loc: cancel_text(card, loc, limit=limit),
        file_id,
        buttons=False,
    )
    return Changed(event, told, job_id)
