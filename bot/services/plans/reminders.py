"""Overdue milestones remind the members responsible for their action (or, with nobody
responsible, the network's coordinators) through the outbox: on working days, within the
local hours REMIND_HOURS, once and then a week later while still overdue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, Recipient
from bot.services.plans.rules import REMIND_EVERY_DAYS, REMIND_HOURS, REMIND_KIND
from bot.services.plans.texts import reminder_payload
from bot.services.reports.settings import get_settings, weekend_days
from bot.text.times import network_zone
from storage.models import utcnow
from storage.repositories import memberships
from storage.repositories import plans as repo

if TYPE_CHECKING:
    from bot.context import AppContext

log = logging.getLogger(__name__)


def in_window(weekend: tuple[int, ...], local: datetime) -> bool:
    return local.weekday() not in weekend and REMIND_HOURS[0] <= local.hour < REMIND_HOURS[1]


async def _recipients(
    session: AsyncSession, network_id: int, action_id: int, default: str
) -> list[Recipient]:
    people = [(p.user_id, p.tg_id, p.language) for p in
              await repo.responsible_people(session, action_id)]
    if not people:
        people = [(u.id, u.tg_id, u.language)
                  for u in await memberships.coordinators(session, network_id)
                  if u.unreachable_since is None]
    return [
        Recipient(uid, tg, lang if lang in SUPPORTED_LOCALES else default)
        for uid, tg, lang in people
    ]


async def remind_overdue(
    session_pool: async_sessionmaker[AsyncSession],
    delivery: DeliveryEngine,
    i18n: I18n,
    now: datetime,
) -> int:
    """Queue the reminders that are due; returns how many milestones were reminded."""
    async with session_pool() as session:
        candidates = await repo.networks_with_open_milestones(session)
    reminded = 0
    for network in candidates:
        async with session_pool() as session:
            settings = await get_settings(session, network.id)
            local = now.astimezone(network_zone(network))
            if not in_window(weekend_days(network, settings.weekend), local):
                continue
            today = local.date()
            default = network.locale if network.locale in SUPPORTED_LOCALES else "en"
            for item in await repo.overdue(session, network.id, today):
                recipients = await _recipients(session, network.id, item.action_id, default)
                if not recipients:
                    continue
                not_since = today - timedelta(days=REMIND_EVERY_DAYS - 1)
                if not await repo.claim_reminder(session, item.milestone_id, today, not_since):
                    continue
                locales = sorted({r.locale for r in recipients})
                await delivery.enqueue(
                    session,
                    kind=REMIND_KIND,
                    payload=reminder_payload(i18n, network, item.action_title, item.text,
                                             item.due_date, locales),
                    recipients=recipients,
                    network_id=network.id,
                )
                reminded += 1
            await session.commit()
    if reminded:
        log.info("reminded %d overdue milestones", reminded)
    return reminded


def setup_jobs(ctx: AppContext) -> None:
    """Register the reminder job: a minute past each hour (each network's local hour)."""

    async def remind() -> None:
        await remind_overdue(ctx.session_pool, ctx.delivery, ctx.i18n, utcnow())

    ctx.scheduler.add_job(remind, "cron", minute=2, id="plans.remind", replace_existing=True)
