"""Events: recipients of an event's messages and the uploaded .ics file."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n

from bot.config import SUPPORTED_LOCALES
from bot.ics import CalendarEvent, build_ics, filename
from bot.services.access import Actor
from bot.services.events.texts import Card
from storage.models import Network
from storage.repositories.events import Person

if TYPE_CHECKING:
    from bot.delivery import Recipient

log = logging.getLogger(__name__)


def _locale(person: Person, network: Network, i18n: I18n) -> str:
    for candidate in (person.language, network.locale, i18n.default_locale):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return "en"


def _recipients(people: Sequence[Person], network: Network, i18n: I18n) -> list[Recipient]:
    from bot.delivery import Recipient

    return [Recipient(p.user_id, p.tg_id, _locale(p, network, i18n)) for p in people]


def _actor_user_id(actor: Actor) -> int | None:
    return actor.user.id if actor.user is not None else None


# ------------------------------------------------------------------ calendar upload


async def upload_ics(
    bot: Bot,
    chat_id: int,
    card: Card,
    *,
    uid: str,
    sequence: int,
    now: datetime,
    caption: str,
    cancelled: bool = False,
) -> Message | None:
    """Send the calendar file to one person (the coordinator acting) and so upload it
    once; members get it again by file_id. None if Telegram refused it."""
    data = build_ics(
        CalendarEvent(
            uid=uid,
            sequence=sequence,
            title=card.title,
            place=card.place,
            description=card.description,
            starts_at=card.starts_at,
            ends_at=card.ends_at,
            timezone=card.timezone,
            kind=card.kind,
        ),
        now=now,
        cancelled=cancelled,
    )
    name = filename(card.kind, card.starts_at, card.timezone)
    try:
        return await bot.send_document(
            chat_id, BufferedInputFile(data, filename=name), caption=caption
        )
    except TelegramAPIError as exc:
        log.warning("could not upload the calendar file of %s: %s", uid, exc)
        return None


def _file_id(message: Message | None) -> str | None:
    if message is not None and message.document is not None:
        return message.document.file_id
    return None
