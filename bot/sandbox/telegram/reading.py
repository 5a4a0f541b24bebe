"""The user side, reading: what the bot sent to a chat, and waiting for it.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any


class ReadingMixin:
    """Snapshots of the bot's messages per chat, and waiting for one to arrive."""

    @staticmethod
    def _snapshot(rec: dict[str, Any]) -> dict[str, Any]:
        snap = dict(rec)
        if rec["edits"] is not None:
            snap["edits"] = list(rec["edits"])
        return snap

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in this chat, oldest first (snapshots).

        Each: index, message_id, method (last send/edit method), date, text (as shown),
        raw_text, parse_mode, entities, caption, raw_caption, caption_entities, reply_markup,
        document / photo (file metadata; bytes via file_content(file_id)), media_group_id,
        reply_to_message_id, link_preview_options, protect_content, disable_notification,
        allow_paid_broadcast, forward_origin, copied_from, edit_date, edits (previous versions,
        oldest first), deleted.
        """
        chat = self._chats.get(int(chat_id))
        if chat is None:
            return []
        return [self._snapshot(r) for r in chat.bot_messages]

    def last_message(self, chat_id: int) -> dict[str, Any] | None:
        chat = self._chats.get(int(chat_id))
        if chat is None or not chat.bot_messages:
            return None
        return self._snapshot(chat.bot_messages[-1])

    def message_count(self, chat_id: int) -> int:
        chat = self._chats.get(int(chat_id))
        return len(chat.bot_messages) if chat is not None else 0

    def get_message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Any message of the chat (bot's or user's) by id."""
        chat = self._chats.get(int(chat_id))
        rec = chat.messages.get(int(message_id)) if chat is not None else None
        return self._snapshot(rec) if rec is not None else None

    def message_json(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The Bot API Message object of a stored message, as the bot would receive it."""
        chat = self._user_chat(chat_id)
        return self._message_json(chat.messages[int(message_id)])

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """Wait until a bot message with index >= after (sent or edited) satisfies predicate.

        Returns a snapshot of that message; raises TimeoutError.
        """
        chat = self._user_chat(chat_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for rec in itertools.islice(chat.bot_messages, after, None):
                snap = self._snapshot(rec)
                if predicate is None or predicate(snap):
                    return snap
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [
                    (r["index"], r["text"] if r["text"] is not None else r["caption"])
                    for r in chat.bot_messages[-5:]
                ]
                raise TimeoutError(
                    f"no matching bot message in chat {chat_id} (after={after}) within "
                    f"{timeout}s; last messages: {recent}"
                )
            fut: asyncio.Future[None] = loop.create_future()
            chat.waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass
            finally:
                if fut in chat.waiters:
                    chat.waiters.remove(fut)
