"""Digests: what a send needs (`DigestSender`) and what it gives back."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from storage.models.digests import Digest

if TYPE_CHECKING:
    from bot.context import AppContext


KIND_TEXT = "digest"
KIND_CHART = "digest_chart"
KIND_ADMIN = "digest_admin"
KIND_XLSX = "digest_xlsx"
LEASE = timedelta(minutes=10)  # a claim older than this was left by a stopped process
SYNC_SECONDS = 300
ADMIN_WEEKDAY, ADMIN_HOUR, ADMIN_ZONE = 0, 6, "UTC"  # Mondays 06:00 UTC
CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SYNC_JOB_ID = "digests.sync"
ADMIN_JOB_ID = "digests.admin"


def network_job_id(network_id: int) -> str:
    return f"digests.network.{network_id}"


class Outcome(enum.StrEnum):
    SENT = "sent"  # queued now (this call made the week's digest)
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another process (or call) is sending it right now
    NO_NETWORK = "no_network"


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    week: date
    digest: Digest | None = None
    recipients: int = 0

    @property
    def sent(self) -> bool:
        return self.outcome == Outcome.SENT


@dataclass
class DigestSender:
    """What sending digests needs; made by `setup_jobs`, the handlers and the CLI."""

    bot: Bot
    session_pool: async_sessionmaker[AsyncSession]
    delivery: DeliveryEngine
    i18n: I18n
    admin_ids: frozenset[int] = frozenset()
    worker_id: str = ""
    planned: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.worker_id:
            self.worker_id = self.delivery.worker_id

    @classmethod
    def from_context(cls, ctx: AppContext) -> DigestSender:
        return cls(ctx.bot, ctx.session_pool, ctx.delivery, ctx.i18n, ctx.settings.admin_ids)
