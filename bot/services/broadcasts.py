"""Coordinator broadcasts: audience, content, sending through the outbox, live progress."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import ACK_TEMPLATE
from bot.config import SUPPORTED_LOCALES
from bot.delivery import DeliveryEngine, JobProgress, Recipient
from bot.services.access import AccessDenied, Actor
from storage.models import Broadcast, JobStatus, Role
from storage.repositories import audit, users
from storage.repositories import broadcasts as repo
from storage.repositories import delivery as delivery_repo
from storage.repositories.broadcasts import Audience, Totals

log = logging.getLogger(__name__)
KIND = "broadcast"
TEXT_MAX = 4096
CAPTION_MAX = 1024


@dataclass(frozen=True)
class Content:
    """What the coordinator sent, ready for the outbox (formatting kept as entities)."""

    kind: str  # text / photo / document
    method: str
    params: dict[str, Any]

    @property
    def preview(self) -> str:
        body = self.params.get("text") or self.params.get("caption") or ""
        first = body.strip().splitlines()[0] if body.strip() else ""
        return first[:200]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "method": self.method, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Content:
        return cls(kind=data["kind"], method=data["method"], params=dict(data["params"]))


def _entities(items: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    if not items:
        return None
    return [e.model_dump(mode="json", exclude_none=True) for e in items]


def content_from_message(message: Message) -> Content | None:
    """Text with its formatting, or a photo or document with its caption; else None."""
    # What people typed is never parsed as HTML: their formatting travels as entities.
    if message.text:
        params: dict[str, Any] = {"text": message.text, "parse_mode": None}
        if entities := _entities(message.entities):
            params["entities"] = entities
        return Content("text", "send_message", params)
    caption: dict[str, Any] = {"parse_mode": None}
    if message.caption:
        caption["caption"] = message.caption
        if entities := _entities(message.caption_entities):
            caption["caption_entities"] = entities
    if message.photo:
        return Content("photo", "send_photo", {"photo": message.photo[-1].file_id, **caption})
    if message.document:
        return Content(
            "document", "send_document", {"document": message.document.file_id, **caption}
        )
    return None


async def show(bot: Bot, chat_id: int, content: Content) -> Message:
    """Send the content to one chat as members will see it (the preview)."""
    method = getattr(bot, content.method)
    result: Message = await method(chat_id=chat_id, **content.params)
    return result


def understood_labels(i18n: I18n) -> dict[str, str]:
    return {locale: i18n.gettext("✓ Understood", locale=locale) for locale in SUPPORTED_LOCALES}


def _check(actor: Actor, audience: Audience) -> None:
    if not audience.network_ids:
        raise AccessDenied("no network chosen")
    if len(audience.network_ids) > 1 and not actor.is_admin:
        raise AccessDenied("only admins broadcast to several networks at once")
    for network_id in audience.network_ids:
        actor.require_coordinator(network_id)
    if audience.roles and not set(audience.roles) <= {Role.MEMBER, Role.COORDINATOR}:
        raise AccessDenied(f"bad roles {audience.roles}")


async def audience_size(session: AsyncSession, actor: Actor, audience: Audience) -> tuple[int, int]:
    """(people, of whom unreachable) the broadcast would go to."""
    _check(actor, audience)
    return await repo.count(session, audience)


async def send(
    session: AsyncSession,
    delivery: DeliveryEngine,
    i18n: I18n,
    actor: Actor,
    *,
    audience: Audience,
    content: Content,
    due_at: datetime | None,
    progress: tuple[int, int] | None,
    default_locale: str,
) -> Broadcast:
    """Queue the broadcast in the outbox (persisted before anything is sent)."""
    _check(actor, audience)
    people = await repo.recipients(session, audience)
    recipients = [
        Recipient(user_id, chat_id, language or default_locale)
        for user_id, chat_id, language, _unreachable in people
    ]
    payload = {
        "method": content.method,
        "params": content.params,
        "buttons": [[{"text": understood_labels(i18n), "callback_data": ACK_TEMPLATE}]],
    }
    author_id = actor.user.id if actor.user else None
    job = await delivery.enqueue(
        session,
        kind=KIND,
        payload=payload,
        recipients=recipients,
        network_id=audience.network_ids[0] if len(audience.network_ids) == 1 else None,
        author_id=author_id,
        due_at=due_at,
        progress=progress,
    )
    broadcast = await repo.add(
        session,
        job_id=job.id,
        author_id=author_id,
        audience=audience,
        kind=content.kind,
        preview=content.preview,
    )
    for network_id in audience.network_ids:
        await audit.record(
            session,
            "broadcast",
            actor_id=author_id,
            network_id=network_id,
            broadcast_id=broadcast.id,
            recipients=job.total,
            scheduled_for=due_at.isoformat() if due_at else None,
        )
    await session.commit()
    return broadcast


async def recent(session: AsyncSession, actor: Actor) -> list[tuple[Broadcast, Totals]]:
    """The latest broadcasts to the actor's networks, with their counts."""
    scope = None if actor.is_admin else sorted(actor.coordinated_network_ids)
    items = await repo.recent(session, scope)
    totals = await repo.totals(session, [b.job_id for b in items])
    return [(b, totals.get(b.job_id, Totals())) for b in items]


async def cancel(
    session: AsyncSession, delivery: DeliveryEngine, actor: Actor, broadcast_id: int
) -> bool:
    """Cancel a scheduled broadcast that has not started. False if it already went out."""
    broadcast = await repo.get(session, broadcast_id)
    if broadcast is None:
        raise AccessDenied(f"no broadcast {broadcast_id}")
    for network_id in await repo.network_ids(session, broadcast_id):
        actor.require_coordinator(network_id)
    if broadcast.job.status != JobStatus.SCHEDULED:
        return False
    done = await delivery.cancel(session, broadcast.job_id)
    if done:
        await audit.record(
            session,
            "broadcast_cancel",
            actor_id=actor.user.id if actor.user else None,
            broadcast_id=broadcast_id,
        )
        await session.commit()
    return done


async def acknowledge(session: AsyncSession, delivery_id: int, tg_id: int) -> bool:
    """The recipient pressed "understood". False when the delivery is not theirs."""
    ok = await delivery_repo.record_ack(session, delivery_id, tg_id)
    await session.commit()
    return ok


def progress_text(p: JobProgress, done: bool) -> str:
    """The author's live summary. People already known to have blocked the bot were left
    out of the job (skipped) and count as "blocked" with those found blocked now."""
    delivered, understood, failed = p.sent, p.acked, p.failed
    blocked, total = p.blocked + p.skipped, p.total + p.skipped
    head = _("Broadcast sent.") if done else _("Sending…")
    return _(
        "{head}\nDelivered: {delivered} of {total}\nUnderstood: {understood}\n"
        "Blocked the bot: {blocked}\nFailed: {failed}"
    ).format(
        head=head,
        delivered=delivered,
        total=total,
        understood=understood,
        blocked=blocked,
        failed=failed,
    )


def progress_reporter(
    bot: Bot, i18n: I18n, session_pool: async_sessionmaker[AsyncSession]
) -> Callable[[JobProgress], Awaitable[None]]:
    """The delivery engine's progress callback: edits the author's one progress message."""

    async def report(p: JobProgress) -> None:
        if p.kind != KIND or p.progress_chat_id is None or p.progress_message_id is None:
            return
        language = None
        if p.author_id is not None:
            async with session_pool() as session:
                language = await users.language_by_id(session, p.author_id)
        with i18n.context(), i18n.use_locale(language or i18n.default_locale):
            text = progress_text(p, p.done)
        try:
            await bot.edit_message_text(
                text=text, chat_id=p.progress_chat_id, message_id=p.progress_message_id
            )
        except TelegramBadRequest as exc:
            if "not modified" not in str(exc):
                log.warning("could not update broadcast progress: %s", exc)
        except TelegramAPIError as exc:
            log.warning("could not update broadcast progress: %s", exc)

    return report
