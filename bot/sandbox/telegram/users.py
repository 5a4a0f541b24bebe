"""The user side: people who talk to the bot (send texts, photos, files; press buttons).

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import time
from typing import Any

from .common import _TINY_PNG, _Chat, _private_chat_json
from .formatting import command_entity


class UsersMixin:
    """What tests call to act as a person; each action queues an update for the bot."""

    def add_user(
        self,
        user_id: int,
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool | None = None,
    ) -> dict[str, Any]:
        """Create (or update) a user who has a private chat with the bot. Returns the User."""
        user: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        chat = self._chats.get(user["id"])
        if chat is None:
            self._chats[user["id"]] = _Chat(user)
        else:
            chat.user = user
            chat.json = _private_chat_json(user)
        return user

    def add_users(
        self, n: int, start_id: int = 1_000_000, language_code: str | None = "en"
    ) -> list[int]:
        """Create users start_id .. start_id+n-1 (first_name "User <id>"). Returns their ids."""
        ids = list(range(start_id, start_id + n))
        for uid in ids:
            user: dict[str, Any] = {"id": uid, "is_bot": False, "first_name": f"User {uid}"}
            if language_code:
                user["language_code"] = language_code
            self._chats[uid] = _Chat(user)
        return ids

    def user(self, user_id: int) -> dict[str, Any]:
        return self._user_chat(user_id).user

    @property
    def user_ids(self) -> list[int]:
        return list(self._chats)

    def _user_chat(self, user_id: int) -> _Chat:
        chat = self._chats.get(int(user_id))
        if chat is None:
            raise KeyError(f"unknown user {user_id}; call add_user() first")
        return chat

    def set_blocked(self, user_id: int, blocked: bool = True, notify: bool = True) -> None:
        """Mark that the user blocked (or unblocked) the bot.

        Like Telegram, a change queues a my_chat_member update (member <-> kicked) unless
        notify=False.
        """
        chat = self._user_chat(user_id)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        if notify:
            member = {"status": "member", "user": self._bot_user}
            kicked = {"status": "kicked", "user": self._bot_user, "until_date": 0}
            self._enqueue(
                "my_chat_member",
                {
                    "chat": chat.json,
                    "from": chat.user,
                    "date": int(time.time()),
                    "old_chat_member": member if blocked else kicked,
                    "new_chat_member": kicked if blocked else member,
                },
            )

    def set_deactivated(self, user_id: int, deactivated: bool = True) -> None:
        """Mark the user's account as deleted: sends fail with 403 "user is deactivated"."""
        self._user_chat(user_id).deactivated = deactivated

    def _user_message(self, user_id: int, **fields: Any) -> dict[str, Any]:
        chat = self._user_chat(user_id)
        if chat.deactivated:
            raise ValueError(f"user {user_id} is deactivated and cannot send messages")
        if chat.blocked:  # writing to a bot you blocked unblocks it first
            self.set_blocked(user_id, False)
        rec = self._new_record(chat, from_bot=False, method="user", **fields)
        return self._enqueue("message", self._message_json(rec))

    def send_message(
        self,
        user_id: int,
        text: str,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user writes ``text`` to the bot. Returns the queued Update.

        A text starting with /command gets a bot_command entity (as Telegram adds it).
        """
        if not text:
            raise ValueError("text must be non-empty")
        ents = list(entities) if entities else []
        cmd = command_entity(text)
        if cmd is not None and not any(
            e.get("type") == "bot_command" and e.get("offset") == 0 for e in ents
        ):
            ents.insert(0, cmd)
        return self._user_message(
            user_id,
            text=text,
            raw_text=text,
            entities=ents or None,
            reply_to_message_id=reply_to_message_id,
        )

    def send_photo(
        self,
        user_id: int,
        caption: str | None = None,
        content: bytes | None = None,
    ) -> dict[str, Any]:
        """The user sends a photo (default: a tiny PNG). Returns the queued Update."""
        if content is None:
            content = _TINY_PNG
        file = self._store_file("photo", content)
        return self._user_message(user_id, photo=file["public"], caption=caption or None)

    def send_document(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """The user sends a file; it is stored so getFile and the download work."""
        file = self._store_file("document", content, file_name, mime_type)
        return self._user_message(user_id, document=file["public"], caption=caption or None)

    def press_button(
        self, user_id: int, message_id: int, callback_data: str, force: bool = False
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message. Returns the queued Update.

        Unless force=True the message must exist in the user's chat and currently carry a
        button with exactly this callback_data.
        """
        chat = self._user_chat(user_id)
        rec = chat.messages.get(int(message_id))
        if not force:
            if rec is None or rec["deleted"] or not rec["from_bot"]:
                raise ValueError(f"no bot message {message_id} in chat {user_id}")
            markup = rec["reply_markup"] or {}
            buttons = [b for row in markup.get("inline_keyboard", []) for b in row]
            if not any(b.get("callback_data") == callback_data for b in buttons):
                available = [b.get("callback_data") for b in buttons if "callback_data" in b]
                raise ValueError(
                    f"message {message_id} has no button with callback_data={callback_data!r}; "
                    f"available: {available}"
                )
        if rec is None or rec["deleted"]:
            message: dict[str, Any] = {"chat": chat.json, "message_id": int(message_id), "date": 0}
        else:
            message = self._message_json(rec)
        qid = f"{self._file_prefix}{next(self._callback_counter):012d}"
        self._callback_queries[qid] = {
            "user_id": chat.id,
            "message_id": int(message_id),
            "data": callback_data,
            "answered": False,
        }
        return self._enqueue(
            "callback_query",
            {
                "id": qid,
                "from": chat.user,
                "message": message,
                "chat_instance": chat.instance,
                "data": callback_data,
            },
        )
