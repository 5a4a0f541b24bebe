"""Groups and channels: the bot leaves at once unless an admin added it. Their messages
and button presses reach no other handler (the private routers filter on the chat type,
handlers/__init__.py), so nobody registers or starts a dialog there."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberUpdated

from bot.services import chats
from bot.services.access import Actor

router = Router(name=__name__)
router.my_chat_member.filter(F.chat.type.in_(chats.SHARED_CHATS))
log = logging.getLogger(__name__)

IN_THE_CHAT = frozenset({"member", "administrator", "creator"})


@router.my_chat_member()
async def added(event: ChatMemberUpdated, bot: Bot, actor: Actor | None = None) -> None:
    new = event.new_chat_member
    if new.status not in IN_THE_CHAT and not getattr(new, "is_member", False):
        return  # removed, or restricted while outside: nothing to leave
    if chats.may_stay(actor, event.chat.id, event.chat.type):
        return
    try:
        await bot.leave_chat(event.chat.id)
    except TelegramAPIError as exc:  # already removed meanwhile
        log.warning("could not leave chat %s: %s", event.chat.id, exc)
