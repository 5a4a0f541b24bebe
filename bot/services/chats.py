"""Chats other than a private one: the bot serves people one to one. Added to a group,
a supergroup or a channel, it stays only when a prevnet admin (ADMIN_IDS) added it."""

from __future__ import annotations

import logging

from bot.services.access import Actor

log = logging.getLogger(__name__)

SHARED_CHATS = frozenset({"group", "supergroup", "channel"})


def may_stay(actor: Actor | None, chat_id: int, chat_type: str) -> bool:
    """Whether the bot stays in the chat it was just added to; one log line either way.
    Telegram's service accounts are never admins (access.SERVICE_ACCOUNTS), so a bot added
    by an anonymous group admin leaves too."""
    who = actor.tg_id if actor is not None else None
    if actor is not None and actor.is_admin:
        log.info("added to %s %s by admin %s: staying", chat_type, chat_id, who)
        return True
    log.warning("added to %s %s by user %s, not an admin: leaving", chat_type, chat_id, who)
    return False
