"""Sending a network's digest: claiming the week's row, then each part once."""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Recipient
from bot.digest_render import (
    Renderer,
)
from bot.services.digests.building import build, locale_of, text_payload
from bot.services.digests.sender import (
    KIND_CHART,
    KIND_TEXT,
    LEASE,
    DigestSender,
    Outcome,
    SendResult,
)
from bot.services.digests.weeks import current_week, week_of
from storage.models import utcnow
from storage.models.digests import Digest
from storage.repositories import audit
from storage.repositories import digests as repo
from storage.repositories import users as users_repo
from storage.repositories.digests import (
    network_scope,
)

log = logging.getLogger(__name__)


async def _claim(
    sender: DigestSender,
    *,
    scope: str,
    network_id: int | None,
    week: date,
    now: datetime,
    trigger: str,
    force: bool,
) -> tuple[int | None, SendResult | None]:
    """The digest row to complete, or the reason there is none."""
    async with sender.session_pool() as session:
        digest_id = await repo.claim(
            session,
            scope=scope,
            network_id=network_id,
            week=week,
            trigger=trigger,
            as_of=now,
            worker_id=sender.worker_id,
            now=now,
        )
        if digest_id is not None:
            await session.commit()
            return digest_id, None
        await session.rollback()
        row = await repo.get(session, scope, week)
        if row is None:  # deleted in between (its network went): nothing to do
            return None, SendResult(Outcome.IN_PROGRESS, week)
        if row.status == repo.CLAIMED:
            if row.claimed_at >= now - LEASE:
                return None, SendResult(Outcome.IN_PROGRESS, week, row)
            taken = await repo.take_over(
                session, row.id, worker_id=sender.worker_id, stale_before=now - LEASE, now=now
            )
            await session.commit()
            return (row.id, None) if taken else (None, SendResult(Outcome.IN_PROGRESS, week, row))
        if not force:
            return None, SendResult(Outcome.ALREADY_SENT, week, row)
        again = await repo.reclaim_for_resend(
            session, row.id, worker_id=sender.worker_id, as_of=now, now=now, trigger=trigger
        )
        await session.commit()
        if not again:
            return None, SendResult(Outcome.IN_PROGRESS, week, row)
        return row.id, None


async def send_network_digest(
    sender: DigestSender,
    network_id: int,
    *,
    now: datetime,
    trigger: str,
    force: bool = False,
    actor_id: int | None = None,
) -> SendResult:
    """This week's digest of one network, unless it has gone out (or ``force``)."""
    async with sender.session_pool() as session:
        found = await repo.networks_with_schedules(session, [network_id])
    if not found:
        return SendResult(Outcome.NO_NETWORK, week_of(now.date()))
    network, _schedule = found[0]
    week = current_week(network, now)
    digest_id, refused = await _claim(
        sender,
        scope=network_scope(network.id),
        network_id=network.id,
        week=week,
        now=now,
        trigger=trigger,
        force=force,
    )
    if digest_id is None:
        assert refused is not None
        return refused
    return await _complete_network(sender, digest_id, actor_id=actor_id)


def _file_payload(
    method: str, field: str, files: dict[str, str], captions: dict[str, str]
) -> dict[str, Any]:
    """An outbox payload sending an uploaded file (one file_id per language) with its caption."""
    first = sorted(files)[0]
    return {
        "method": method,
        "params": {
            field: files.get("en", files[first]),
            "caption": captions.get("en", captions[first]),
        },
        "locales": {loc: {field: files[loc], "caption": captions[loc]} for loc in files},
    }


async def _upload(
    bot: Bot,
    session: AsyncSession,
    candidates: Sequence[tuple[int, int]],
    send: Callable[[int], Awaitable[Message]],
) -> tuple[str, int] | None:
    """Send a file to the first candidate who can get it: (its file_id, their user id)."""
    for user_id, tg_id in candidates:
        try:
            message = await send(tg_id)
        except TelegramForbiddenError:
            await users_repo.mark_unreachable(session, [user_id], utcnow())
            continue
        except TelegramAPIError as exc:
            log.warning("could not upload a digest file to %s: %s", tg_id, exc)
            continue
        if message.photo:
            return message.photo[-1].file_id, user_id
        if message.document:
            return message.document.file_id, user_id
    return None


async def _send_file_part(
    sender: DigestSender,
    session: AsyncSession,
    digest: Digest,
    progress: dict[str, Any],
    *,
    part: str,
    kind: str,
    method: str,
    field: str,
    filename: str,
    people_by_locale: dict[str, list[tuple[int, int]]],
    render: Callable[[str], bytes],
    caption: Callable[[str], str],
    network_id: int | None = None,
    author_id: int | None = None,
) -> int | None:
    """A file part of a digest (the chart, the admins' XLSX), each step recorded on the
    digest row so a crash never repeats one: upload the file once per language to the
    first person who can get it, then send its file_id to everyone else through the
    outbox. Returns the outbox job's id, if there was anyone left to send it to."""
    for loc, people in sorted(people_by_locale.items()):
        if loc in progress["files"]:
            continue
        data, text = render(loc), caption(loc)

        def send(chat_id: int, data: bytes = data, text: str = text) -> Awaitable[Message]:
            upload = BufferedInputFile(data, filename=filename)
            return getattr(sender.bot, method)(chat_id, **{field: upload}, caption=text)

        uploaded = await _upload(sender.bot, session, people, send)
        if uploaded is not None:
            progress["files"][loc], user_id = uploaded
            progress["uploaded"].append(user_id)
            digest.progress = copy.deepcopy(progress)
        await session.commit()
    rest = [
        Recipient(user_id, tg_id, loc)
        for loc, people in people_by_locale.items()
        for user_id, tg_id in people
        if loc in progress["files"] and user_id not in progress["uploaded"]
    ]
    progress["parts"].append(part)
    digest.progress = copy.deepcopy(progress)
    if not rest:
        await session.commit()
        return None
    files = progress["files"]
    payload = _file_payload(method, field, files, {loc: caption(loc) for loc in files})
    job = await sender.delivery.enqueue(
        session,
        kind=kind,
        payload=payload,
        recipients=rest,
        network_id=network_id,
        author_id=author_id,
    )  # commits the progress with the job
    return job.id


def _progress(digest: Digest) -> dict[str, Any]:
    p = dict(digest.progress or {})
    p["files"] = dict(p.get("files") or {})
    p["uploaded"] = list(p.get("uploaded") or [])
    p["parts"] = list(p.get("parts") or [])
    return p


async def _complete_network(
    sender: DigestSender, digest_id: int, *, actor_id: int | None = None
) -> SendResult:
    """Finish a claimed digest: chart (upload, then the other coordinators), then texts."""
    default = sender.i18n.default_locale
    async with sender.session_pool() as session:
        digest = await repo.get_by_id(session, digest_id)
        assert digest is not None and digest.network_id is not None
        found = await repo.networks_with_schedules(session, [digest.network_id])
        network = found[0][0]
        d = (await build(session, [network], digest.as_of))[network.id]
        await session.commit()  # no transaction stays open while we talk to Telegram
        renderer = Renderer(sender.i18n)
        progress = _progress(digest)
        jobs = dict(digest.job_ids or {})
        coordinators = [m for m in d.coordinators if not m.unreachable]

        if coordinators and "chart" not in progress["parts"]:
            by_locale: dict[str, list[tuple[int, int]]] = {}
            for m in coordinators:
                loc = locale_of(m.language, network, default)
                by_locale.setdefault(loc, []).append((m.user_id, m.tg_id))
            job_id = await _send_file_part(
                sender,
                session,
                digest,
                progress,
                part="chart",
                kind=KIND_CHART,
                method="send_photo",
                field="photo",
                filename="digest.png",
                people_by_locale=by_locale,
                render=lambda loc: renderer.chart(d, loc),
                caption=lambda loc: renderer.chart_caption(d, loc),
                network_id=network.id,
                author_id=actor_id,
            )
            if job_id is not None:
                jobs["chart"] = job_id

        recipients: list[Recipient] = []
        if "text" not in progress["parts"]:
            payload, recipients = text_payload(renderer, d, default)
            progress["parts"].append("text")
            digest.progress = copy.deepcopy(progress)
            digest.status = repo.SENT
            digest.sent_at = utcnow()
            digest.recipients = len(recipients)
            if recipients:
                job = await sender.delivery.enqueue(
                    session,
                    kind=KIND_TEXT,
                    payload=payload,
                    recipients=recipients,
                    network_id=network.id,
                    author_id=actor_id,
                )  # commits the status with the job
                jobs["text"] = job.id
        digest.status = repo.SENT
        digest.job_ids = dict(jobs)
        await audit.record(
            session,
            "digest_send",
            actor_id=actor_id,
            network_id=network.id,
            week=digest.week.isoformat(),
            trigger=digest.trigger,
            recipients=digest.recipients,
            resend=digest.resends,
        )
        await session.commit()
        log.info(
            "digest of %s for the week of %s queued for %d people (%s)",
            network.slug,
            digest.week,
            digest.recipients,
            digest.trigger,
        )
        return SendResult(Outcome.SENT, digest.week, digest, digest.recipients)
