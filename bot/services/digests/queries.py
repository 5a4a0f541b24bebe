"""What coordinators ask for: a preview, the schedule, send now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.digest_render import (
    Renderer,
)
from bot.services.access import AccessDenied, Actor
from bot.services.digests.admin import admin_rows
from bot.services.digests.building import build
from bot.services.digests.sender import ADMIN_ZONE, DigestSender, Outcome, SendResult
from bot.services.digests.sending import send_network_digest
from bot.services.digests.weeks import admin_week, current_week, window_for
from bot.services.networks import coordinated_network
from storage.models import Network
from storage.models.digests import Digest
from storage.repositories import audit, memberships
from storage.repositories import digests as repo
from storage.repositories.digests import (
    Schedule,
    network_scope,
)


@dataclass(frozen=True, slots=True)
class Preview:
    text: str
    chart: bytes | None = None  # the coordinators' PNG
    xlsx: bytes | None = None  # the admins' spreadsheet
    filename: str = ""


async def preview(
    session: AsyncSession, i18n: I18n, actor: Actor, network_id: int, now: datetime
) -> Preview:
    """This week's digest of a network as the actor would get it (0: the admins')."""
    renderer = Renderer(i18n)
    locale = i18n.current_locale
    if network_id == 0:
        if not actor.is_admin:
            raise AccessDenied("only admins see the cross-network digest")
        rows = await admin_rows(session, now)
        window = window_for(ZoneInfo(ADMIN_ZONE), now)
        return Preview(
            renderer.admin_text(rows, window, locale),
            xlsx=renderer.admin_xlsx(rows, window, locale),
            filename=f"digest-{admin_week(now).isoformat()}.xlsx",
        )
    actor.require_member(network_id)
    found = await repo.networks_with_schedules(session, [network_id])
    if not found:
        raise AccessDenied(f"no network {network_id}")
    network = found[0][0]
    d = (await build(session, [network], now))[network_id]
    me = next(
        (m for m in d.figures.members if actor.user is not None and m.user_id == actor.user.id),
        None,
    )
    coordinator = actor.can_coordinate(network_id)
    text = renderer.text(d, locale, me, coordinator)
    chart = renderer.chart(d, locale) if coordinator else None
    return Preview(text, chart=chart)


async def schedule_of(
    session: AsyncSession, actor: Actor, network_id: int, now: datetime
) -> tuple[Network, Schedule, Digest | None]:
    """A coordinator's view of the schedule, with this week's digest row if any."""
    network = await coordinated_network(session, actor, network_id)
    schedule = await repo.get_schedule(session, network_id)
    row = await repo.get(session, network_scope(network_id), current_week(network, now))
    return network, schedule, row


async def change_schedule(
    session: AsyncSession,
    actor: Actor,
    network_id: int,
    now: datetime,
    *,
    weekday: int | None = None,
    hour: int | None = None,
) -> tuple[Network, Schedule]:
    network = await coordinated_network(session, actor, network_id)
    current = await repo.get_schedule(session, network_id)
    new_day = current.weekday if weekday is None else weekday
    new_hour = current.hour if hour is None else hour
    if not (0 <= new_day <= 6 and 0 <= new_hour <= 23):
        raise ValueError("weekday 0-6 and hour 0-23")
    schedule = await repo.save_schedule(session, network_id, now, weekday=new_day, hour=new_hour)
    await audit.record(
        session,
        "digest_settings",
        actor_id=actor.user.id if actor.user else None,
        network_id=network_id,
        weekday=new_day,
        hour=new_hour,
    )
    await session.commit()
    return network, schedule


@dataclass(frozen=True, slots=True)
class SendOffer:
    """What "send now" asks first: a refusal when this week's digest went out (or is going
    out), else how many people it reaches."""

    network: Network
    schedule: Schedule
    refusal: SendResult | None = None
    people: int = 0
    may_force: bool = False  # an admin may send it again anyway


def refusal_of(row: Digest | None) -> SendResult | None:
    """This week's row, if any, as the outcome a second send would have."""
    if row is None:
        return None
    outcome = Outcome.IN_PROGRESS if row.status == repo.CLAIMED else Outcome.ALREADY_SENT
    return SendResult(outcome, row.week, row)


async def offer_send_now(
    session: AsyncSession, actor: Actor, network_id: int, now: datetime
) -> SendOffer:
    """The question before a coordinator's "send now"."""
    network, schedule, row = await schedule_of(session, actor, network_id, now)
    refusal = refusal_of(row)
    if refusal is not None:
        return SendOffer(
            network, schedule, refusal,
            may_force=actor.is_admin and refusal.outcome == Outcome.ALREADY_SENT,
        )
    people = await memberships.count_active(session, network.id)
    return SendOffer(network, schedule, people=people)


async def send_now(
    sender: DigestSender, actor: Actor, network_id: int, now: datetime, *, force: bool = False
) -> SendResult:
    """A coordinator's "send now" (refused when this week's went out; admins may force)."""
    actor.require_coordinator(network_id)
    if force and not actor.is_admin:
        raise AccessDenied("only admins send a week's digest twice")
    return await send_network_digest(
        sender,
        network_id,
        now=now,
        trigger="coordinator",
        force=force,
        actor_id=actor.user.id if actor.user else None,
    )
