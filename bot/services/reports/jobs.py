"""The scheduled jobs of reports: notices and nudges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.services.reports.notices import notify_new_reports, send_nudges
from bot.services.reports.rules import NOTIFY_INTERVAL
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.context import AppContext


def setup_jobs(ctx: AppContext) -> None:
    """Register this feature's scheduled jobs on ctx.scheduler."""

    async def notify() -> None:
        await notify_new_reports(ctx.session_pool, ctx.delivery, ctx.i18n, utcnow())

    async def nudge() -> None:
        await send_nudges(ctx.session_pool, ctx.delivery, ctx.i18n, utcnow())

    ctx.scheduler.add_job(
        notify,
        "interval",
        seconds=NOTIFY_INTERVAL,
        id="reports.notify",
        replace_existing=True,
        misfire_grace_time=NOTIFY_INTERVAL * 2,
    )
    # A minute after each hour, so networks on the half hour (none here) still get one run.
    ctx.scheduler.add_job(nudge, "cron", minute=1, id="reports.nudge", replace_existing=True)
