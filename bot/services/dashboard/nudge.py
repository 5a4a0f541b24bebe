"""A coordinator's nudge from the dashboard: the bot's reminder to report (the same text
and button as the scheduled nudges, bot/services/reports/notices.py), sent through the
outbox, to a silent member of a network they coordinate, once a day per member."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, Recipient
from bot.services import reports as service
from bot.services.access import AccessDenied
from bot.services.dashboard.figures import SILENT_DAYS, is_silent, nudged_on_day
from bot.services.dashboard.scope import DashboardError, Viewer
from bot.text.times import network_zone
from storage.repositories import audit, networks
from storage.repositories import dashboard as repo
from storage.repositories import reports as reports_repo

log = logging.getLogger(__name__)


async def nudge(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    viewer: Viewer,
    membership_id: int,
    now: datetime,
) -> dict[str, bool]:
    target = await repo.member(session, membership_id)
    if target is None or not viewer.actor.can_coordinate(target.network_id):
        raise AccessDenied(f"membership {membership_id} is not in a network of the viewer")
    network = await networks.get(session, target.network_id)
    assert network is not None
    today = now.astimezone(network_zone(network)).date()
    record = (
        await repo.records(
            session,
            [network.id],
            since=today,
            until=today,
            events_from=now,
            events_until=now,
        )
    ).get((network.id, target.user_id)) or repo.Record()
    if nudged_on_day(record.nudged_at, network, now):
        raise DashboardError(409, "already_nudged")
    if not is_silent(target.role, record.last_report, today - timedelta(days=SILENT_DAYS - 1)):
        raise DashboardError(409, "not_silent")
    if target.unreachable:
        raise DashboardError(409, "unreachable")
    last = record.last_report or target.since.astimezone(network_zone(network)).date()
    days = max(1, (today - last).days)
    locale = target.language or network.locale or i18n.default_locale
    if locale not in SUPPORTED_LOCALES:
        locale = i18n.default_locale
    zone = network_zone(network)
    day_start = datetime.combine(today, time.min, tzinfo=zone).astimezone(UTC)
    if not await reports_repo.claim_nudge(session, network.id, target.user_id, now, day_start):
        raise DashboardError(409, "already_nudged")  # another nudge a moment ago
    await audit.record(
        session,
        "report_nudge",
        actor_id=viewer.user_id,
        subject_id=target.user_id,
        network_id=network.id,
        via="dashboard",
    )
    await delivery.enqueue(  # commits the nudge mark, the audit row and the job together
        session,
        kind=service.NUDGE_KIND,
        payload=service.nudge_payload(i18n, network, days, [locale]),
        recipients=[Recipient(target.user_id, target.tg_id, locale)],
        network_id=network.id,
    )
    log.info("dashboard: a coordinator nudged a member of network %s", network.slug)
    return {"ok": True}
