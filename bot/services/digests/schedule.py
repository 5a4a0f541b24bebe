"""Each network's weekly job, catch-up after a restart, and the jobs' setup."""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.services.digests.admin import _complete_admin, send_admin_digest
from bot.services.digests.sender import (
    ADMIN_HOUR,
    ADMIN_JOB_ID,
    ADMIN_WEEKDAY,
    ADMIN_ZONE,
    CRON_DAYS,
    LEASE,
    SYNC_JOB_ID,
    SYNC_SECONDS,
    DigestSender,
    SendResult,
    network_job_id,
)
from bot.services.digests.sending import _complete_network, send_network_digest
from bot.services.digests.weeks import admin_week, current_week, due_at, zone
from storage.models import Network, utcnow
from storage.models.digests import Digest
from storage.repositories import digests as repo
from storage.repositories.digests import (
    ADMIN_SCOPE,
    Schedule,
    network_scope,
)

if TYPE_CHECKING:
    from bot.context import AppContext

log = logging.getLogger(__name__)


async def catch_up(sender: DigestSender, now: datetime) -> list[SendResult]:
    """Send this week's digests that are due and not sent (the bot was down at their
    time), finish those a stopped process left half-way, and give up those of past weeks.
    A digest is due only if its network existed, with that schedule, at the due time."""
    async with sender.session_pool() as session:
        planned = await repo.networks_with_schedules(session)
        stale = await repo.stale_claims(session, now - LEASE)
        keys = [(network_scope(n.id), current_week(n, now)) for n, _s in planned]
        if sender.admin_ids:
            keys.append((ADMIN_SCOPE, admin_week(now)))
        existing = await repo.of_weeks(session, keys)
        networks = {n.id: n for n, _s in planned}

        def this_week(row: Digest) -> date | None:
            if row.scope == ADMIN_SCOPE:
                return admin_week(now)
            network = networks.get(row.network_id) if row.network_id is not None else None
            return current_week(network, now) if network is not None else None

        resumable = [row for row in stale if row.week == this_week(row)]
        for row in stale:
            if row not in resumable:
                await repo.set_status(session, row.id, repo.ABANDONED)
                log.warning(
                    "digest %s of the week of %s was cut off; its week is over", row.scope, row.week
                )
        await session.commit()
    results: list[SendResult] = []
    for row in resumable:
        async with sender.session_pool() as session:
            taken = await repo.take_over(
                session, row.id, worker_id=sender.worker_id, stale_before=now - LEASE, now=now
            )
            await session.commit()
        if taken:
            log.warning(
                "finishing digest %s of the week of %s, cut off earlier", row.scope, row.week
            )
            if row.scope == ADMIN_SCOPE:
                results.append(await _complete_admin(sender, row.id))
            else:
                results.append(await _complete_network(sender, row.id))
    for network, schedule in planned:
        week = current_week(network, now)
        moment = due_at(schedule, zone(network), week)
        since = max(network.created_at, schedule.updated_at or network.created_at)
        if (network_scope(network.id), week) in existing or not since <= moment <= now:
            continue
        log.info("digest of %s was due at %s: sending it now", network.slug, moment)
        results.append(await send_network_digest(sender, network.id, now=now, trigger="catchup"))
    if sender.admin_ids and (ADMIN_SCOPE, admin_week(now)) not in existing:
        moment = due_at(Schedule(ADMIN_WEEKDAY, ADMIN_HOUR), ZoneInfo(ADMIN_ZONE), admin_week(now))
        if moment <= now:
            results.append(await send_admin_digest(sender, now=now, trigger="catchup"))
    return results


_SENDERS: weakref.WeakKeyDictionary[BaseScheduler, DigestSender] = weakref.WeakKeyDictionary()


def _key(network: Network, schedule: Schedule) -> tuple[int, int, str]:
    return (schedule.weekday, schedule.hour, network.timezone)


def plan(
    scheduler: BaseScheduler, sender: DigestSender, network: Network, schedule: Schedule
) -> None:
    """The network's cron trigger, in its time zone (replaced only when it changed, so a
    re-plan never skips a run that is about to fire)."""
    job_id = network_job_id(network.id)
    key = _key(network, schedule)
    if sender.planned.get(job_id) == key and scheduler.get_job(job_id) is not None:
        return

    async def run(network_id: int = network.id) -> None:
        # Changed in another process (not re-planned here yet): this is not its time.
        async with sender.session_pool() as session:
            found = await repo.networks_with_schedules(session, [network_id])
        if found and _key(*found[0]) != key:
            log.info("digest of network %s: its schedule changed; re-planned", network_id)
            plan(scheduler, sender, *found[0])
            return
        result = await send_network_digest(sender, network_id, now=utcnow(), trigger="schedule")
        log.info("scheduled digest of network %s: %s", network_id, result.outcome)

    if scheduler.get_job(job_id) is not None:
        scheduler.remove_job(job_id)  # (a pending job of a scheduler not yet started, too)
    scheduler.add_job(
        run,
        CronTrigger(
            day_of_week=CRON_DAYS[schedule.weekday],
            hour=schedule.hour,
            minute=0,
            timezone=zone(network),
        ),
        id=job_id,
    )
    sender.planned[job_id] = key


async def sync(scheduler: BaseScheduler, sender: DigestSender, now: datetime) -> None:
    """Re-plan every network's trigger from the database, then catch up."""
    async with sender.session_pool() as session:
        planned = await repo.networks_with_schedules(session)
    wanted = set()
    for network, schedule in planned:
        plan(scheduler, sender, network, schedule)
        wanted.add(network_job_id(network.id))
    for job_id in [j for j in sender.planned if j.startswith("digests.network.")]:
        if job_id not in wanted:
            sender.planned.pop(job_id, None)
            if scheduler.get_job(job_id) is not None:
                scheduler.remove_job(job_id)
    await catch_up(sender, now)


def replan(scheduler: BaseScheduler | None, network: Network, schedule: Schedule) -> bool:
    """After a settings change in this process: move the network's trigger at once."""
    sender = _SENDERS.get(scheduler) if scheduler is not None else None
    if sender is None:
        return False  # not running here; the sync job of the running bot picks it up
    plan(scheduler, sender, network, schedule)  # type: ignore[arg-type]
    return True


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler: a cron trigger per
    network (planned by the first sync, at start), the admins' digest, and the sync."""
    sender = DigestSender.from_context(ctx)
    _SENDERS[ctx.scheduler] = sender
    lock = asyncio.Lock()

    async def run_sync() -> None:
        if lock.locked():
            return
        async with lock:
            try:
                await sync(ctx.scheduler, sender, utcnow())
            except Exception:
                log.exception("digest sync failed; trying again at the next one")

    async def run_admin() -> None:
        result = await send_admin_digest(sender, now=utcnow(), trigger="schedule")
        log.info("admins' digest: %s", result.outcome)

    ctx.scheduler.add_job(
        run_sync,
        "interval",
        seconds=SYNC_SECONDS,
        id=SYNC_JOB_ID,
        replace_existing=True,
        next_run_time=utcnow(),
    )
    if ctx.settings.admin_ids:
        ctx.scheduler.add_job(
            run_admin,
            CronTrigger(
                day_of_week=CRON_DAYS[ADMIN_WEEKDAY],
                hour=ADMIN_HOUR,
                minute=0,
                timezone=ZoneInfo(ADMIN_ZONE),
            ),
            id=ADMIN_JOB_ID,
            replace_existing=True,
        )
