"""The admins' cross-network digest with its spreadsheet."""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Recipient
from bot.digest_admin import AdminRow, admin_row
from bot.digest_render import Renderer
from bot.services.digests.building import build, locale_of
from bot.services.digests.sender import (
    ADMIN_ZONE,
    KIND_ADMIN,
    KIND_XLSX,
    DigestSender,
    Outcome,
    SendResult,
)
from bot.services.digests.sending import _claim, _progress, _send_file_part
from bot.services.digests.weeks import admin_week, window_for
from storage.models import User, utcnow
from storage.repositories import audit
from storage.repositories import digests as repo
from storage.repositories.digests import (
    ADMIN_SCOPE,
)

log = logging.getLogger(__name__)


async def admin_rows(session: AsyncSession, now: datetime) -> list[AdminRow]:
    from storage.repositories import networks as networks_repo

    networks = list(await networks_repo.list_all(session))
    digests = await build(session, networks, now)
    return [admin_row(digests[n.id]) for n in networks]


async def send_admin_digest(
    sender: DigestSender, *, now: datetime, trigger: str, force: bool = False
) -> SendResult:
    """This week's cross-network digest to the admins (who have talked to the bot)."""
    week = admin_week(now)
    digest_id, refused = await _claim(
        sender,
        scope=ADMIN_SCOPE,
        network_id=None,
        week=week,
        now=now,
        trigger=trigger,
        force=force,
    )
    if digest_id is None:
        assert refused is not None
        return refused
    return await _complete_admin(sender, digest_id)


async def _complete_admin(sender: DigestSender, digest_id: int) -> SendResult:
    default = sender.i18n.default_locale
    async with sender.session_pool() as session:
        digest = await repo.get_by_id(session, digest_id)
        assert digest is not None
        rows = await admin_rows(session, digest.as_of)
        admins = [
            u
            for u in await repo.admin_users(session, sender.admin_ids)
            if u.unreachable_since is None
        ]
        await session.commit()
        window = window_for(ZoneInfo(ADMIN_ZONE), digest.as_of)
        renderer = Renderer(sender.i18n)
        progress = _progress(digest)
        jobs = dict(digest.job_ids or {})
        by_locale: dict[str, list[User]] = {}
        for u in admins:
            by_locale.setdefault(locale_of(u.language, None, default), []).append(u)

        if admins and "xlsx" not in progress["parts"]:
            job_id = await _send_file_part(
                sender,
                session,
                digest,
                progress,
                part="xlsx",
                kind=KIND_XLSX,
                method="send_document",
                field="document",
                filename=f"digest-{digest.week.isoformat()}.xlsx",
                people_by_locale={
                    loc: [(u.id, u.tg_id) for u in people] for loc, people in by_locale.items()
                },
                render=lambda loc: renderer.admin_xlsx(rows, window, loc),
                caption=lambda loc: renderer.admin_caption(window, loc),
            )
            if job_id is not None:
                jobs["xlsx"] = job_id

        if "text" not in progress["parts"]:
            locales = sorted(by_locale) or [default]
            variants = {loc: {"text": renderer.admin_text(rows, window, loc)} for loc in locales}
            recipients = [
                Recipient(u.id, u.tg_id, loc) for loc, people in by_locale.items() for u in people
            ]
            progress["parts"].append("text")
            digest.progress = copy.deepcopy(progress)
            digest.status = repo.SENT
            digest.sent_at = utcnow()
            digest.recipients = len(recipients)
            if recipients:
                first = locales[0]
                payload = {
                    "method": "send_message",
                    "params": dict(variants.get("en", variants[first])),
                    "locales": variants,
                }
                job = await sender.delivery.enqueue(
                    session, kind=KIND_ADMIN, payload=payload, recipients=recipients
                )
                jobs["text"] = job.id
        digest.status = repo.SENT
        digest.job_ids = dict(jobs)
        await audit.record(
            session,
            "digest_send",
            week=digest.week.isoformat(),
            trigger=digest.trigger,
            recipients=digest.recipients,
            resend=digest.resends,
            scope=ADMIN_SCOPE,
        )
        await session.commit()
        log.info(
            "admins' digest for the week of %s queued for %d admins", digest.week, digest.recipients
        )
        return SendResult(Outcome.SENT, digest.week, digest, digest.recipients)
