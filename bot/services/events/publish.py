"""Creating an event from a checked draft and announcing it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import Actor
from bot.services.events.calendar import _actor_user_id, _file_id, _recipients, upload_ics
from bot.services.events.reminders import plan_reminders
from bot.services.events.rules import (
    DESCRIPTION_MAX,
    PLACE_MAX,
    TITLE_MAX,
    EventError,
    Problem,
    check_end,
    check_start,
    clean_text,
)
from bot.services.events.texts import Card, _payload, announcement_text, in_locales, rsvp_buttons
from bot.services.networks import coordinated_network
from storage.models.events import Event, EventKind, EventStatus
from storage.repositories import audit, memberships
from storage.repositories import events as repo

if TYPE_CHECKING:
    from bot.delivery import DeliveryEngine


@dataclass(frozen=True, slots=True)
class Draft:
    network_id: int
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    event: Event
    recipients: int
    offsets: list[int]
    job_id: int | None
    message: Message | None  # the coordinator's copy (with the calendar file)


def check_draft(draft: Draft, now: datetime) -> Draft:
    if draft.kind not in set(EventKind):
        raise EventError(Problem.FORMAT)
    check_start(draft.starts_at, now)
    check_end(draft.starts_at, draft.ends_at)
    return Draft(
        network_id=draft.network_id,
        kind=draft.kind,
        title=clean_text(draft.title, TITLE_MAX),
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        place=clean_text(draft.place, PLACE_MAX),
        description=(
            clean_text(draft.description, DESCRIPTION_MAX, multiline=True)
            if draft.description
            else None
        ),
    )


async def audience_size(session: AsyncSession, actor: Actor, network_id: int) -> int:
    """How many people an announcement in this network reaches (all but the author)."""
    await coordinated_network(session, actor, network_id)
    count = await memberships.count_active(session, network_id)
    return count - (1 if network_id in actor.member_network_ids else 0)


async def create_event(
    session: AsyncSession,
    bot: Bot,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    draft: Draft,
    *,
    chat_id: int,
    now: datetime,
) -> Published:
    """Store the event, plan its reminders and announce it to the network, at once.

    The calendar file goes first to the coordinator (``chat_id``), which uploads it; the
    event, its reminders, the audit entry and the announcement job then commit together.
    """
    network = await coordinated_network(session, actor, draft.network_id)
    draft = check_draft(draft, now)
    card = Card(
        kind=draft.kind,
        title=draft.title,
        place=draft.place,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        timezone=network.timezone,
    )
    uid = f"{uuid.uuid4()}@prevnet"
    mine = await upload_ics(
        bot,
        chat_id,
        card,
        uid=uid,
        sequence=0,
        now=now,
        caption=announcement_text(card, i18n.current_locale),
    )
    file_id = _file_id(mine)
    event = await repo.create(
        session,
        network_id=network.id,
        uid=uid,
        kind=draft.kind,
        title=draft.title,
        place=draft.place,
        description=draft.description,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        status=EventStatus.SCHEDULED,
        sequence=0,
        ics_file_id=file_id,
        created_by_id=_actor_user_id(actor),
        created_at=now,
        updated_at=now,
    )
    offsets = await repo.reminder_offsets(session, network.id)
    await plan_reminders(session, event, now, offsets)
    await audit.record(
        session,
        "event_create",
        actor_id=_actor_user_id(actor),
        network_id=network.id,
        event_id=event.id,
        kind=draft.kind,
        starts_at=draft.starts_at.isoformat(),
    )
    members = [
        p for p in await repo.people(session, event.id, network.id) if p.tg_id != actor.tg_id
    ]
    job_id = None
    if members:
        texts = in_locales(i18n, lambda loc: announcement_text(card, loc))
        job = await delivery.enqueue(  # commits the event with its job
            session,
            kind="event",
            payload=_payload(texts, file_id, rsvp_buttons(i18n, event.id)),
            recipients=_recipients(members, network, i18n),
            network_id=network.id,
            author_id=_actor_user_id(actor),
        )
        job_id = job.id
    else:
        await session.commit()
    return Published(event, len(members), offsets, job_id, mine)
