"""The fake's in-memory state: chats and their message records, and resetting it all.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from typing import Any

from .common import _RECORD_TEMPLATE, _Chat, _to_bool


class StateMixin:
    """Chats (one private chat per user), message records, update queue and counters."""

    # -- state

    def _reset_state(self, keep_users: bool) -> None:
        if keep_users:
            users = [(c.user, c.blocked, c.deactivated) for c in self._chats.values()]
        self._chats: dict[int, _Chat] = {}
        if keep_users:
            for user, blocked, deactivated in users:
                chat = _Chat(user)
                chat.blocked = blocked
                chat.deactivated = deactivated
                self._chats[chat.id] = chat
        # updates
        self._next_update_id = self._first_update_id
        self._queue: deque[dict[str, Any]] = deque()
        self._forced: list[list[Any]] = []  # [update, delivered]
        self._poll_waiters: list[asyncio.Future[None]] = []
        self._confirm_waiters: list[asyncio.Future[None]] = []
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._updates_created = 0
        self._updates_dropped = 0
        # webhook
        self._webhook: dict[str, Any] = {}
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None
        # files
        self._files: dict[str, dict[str, Any]] = {}
        self._files_by_path: dict[str, dict[str, Any]] = {}
        self._file_counter = itertools.count(1)
        # callbacks
        self._callback_queries: dict[str, dict[str, Any]] = {}
        self._callback_answers: dict[int, list[dict[str, Any]]] = {}
        self._answer_waiters: list[asyncio.Future[None]] = []
        self._callback_counter = itertools.count(1)
        self._media_group_counter = itertools.count(13_000_000_000_000_000)
        # bot settings
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        # faults
        self._failures: dict[str, deque[tuple[int, str, int | None]]] = {}
        self._delays: dict[str, tuple[float, str]] = {}
        # rate limiting & stats
        self._global_window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._reset_stats()

    def _reset_stats(self) -> None:
        self._calls: deque[dict[str, Any]] = deque(maxlen=self._max_calls or None)
        self._method_counts: dict[str, int] = {}
        self._error_counts: dict[int, int] = {}
        self._sent_per_chat: dict[int, int] = {}
        self._total_sent = 0
        self._too_many = 0
        self._stat_window: deque[float] = deque()
        self._max_rate = 0
        self._first_send: float | None = None
        self._last_send: float | None = None

    def reset(self, keep_users: bool = True) -> None:
        """Forget messages, updates, files, calls and stats (and users unless keep_users)."""
        self._stop_webhook_worker()
        for chat in self._chats.values():
            for fut in chat.waiters:
                if not fut.done():
                    fut.set_result(None)
        self._wake(self._poll_waiters)
        self._reset_state(keep_users=keep_users)

    def reset_calls(self) -> None:
        """Clear the call log (the counters in stats() stay)."""
        self._calls.clear()

    def reset_stats(self) -> None:
        """Clear the call log and every counter of stats()."""
        self._reset_stats()

    # -- message records

    def _new_record(self, chat: _Chat, **fields: Any) -> dict[str, Any]:
        rec = dict(_RECORD_TEMPLATE)
        rec.update(fields)
        rec["chat_id"] = chat.id
        rec["message_id"] = mid = chat.next_message_id
        chat.next_message_id = mid + 1
        rec["date"] = int(time.time())
        chat.messages[mid] = rec
        return rec

    def _new_bot_message(self, chat: _Chat, method: str, p: dict[str, Any], **fields: Any) -> dict:
        rec = self._new_record(chat, method=method, **fields)
        rec["index"] = len(chat.bot_messages)
        rec["edits"] = []
        rec["protect_content"] = _to_bool(p.get("protect_content", False))
        rec["disable_notification"] = _to_bool(p.get("disable_notification", False))
        rec["allow_paid_broadcast"] = _to_bool(p.get("allow_paid_broadcast", False))
        chat.bot_messages.append(rec)
        # stats
        now = time.monotonic()
        self._total_sent += 1
        self._sent_per_chat[chat.id] = self._sent_per_chat.get(chat.id, 0) + 1
        if self._first_send is None:
            self._first_send = now
        self._last_send = now
        sw = self._stat_window
        sw.append(now)
        cutoff = now - 1.0
        while sw[0] <= cutoff:
            sw.popleft()
        if len(sw) > self._max_rate:
            self._max_rate = len(sw)
        if chat.waiters:
            self._wake(chat.waiters)
        return rec

    def _message_json(self, rec: dict[str, Any], with_reply: bool = True) -> dict[str, Any]:
        chat = self._chats[rec["chat_id"]]
        m: dict[str, Any] = {
            "message_id": rec["message_id"],
            "from": self._bot_user if rec["from_bot"] else chat.user,
            "chat": chat.json,
            "date": rec["date"],
        }
        if rec["edit_date"]:
            m["edit_date"] = rec["edit_date"]
        if rec["forward_origin"]:
            m["forward_origin"] = rec["forward_origin"]
        if rec["protect_content"]:
            m["has_protected_content"] = True
        if rec["media_group_id"]:
            m["media_group_id"] = rec["media_group_id"]
        if with_reply and rec["reply_to_message_id"]:
            target = chat.messages.get(rec["reply_to_message_id"])
            if target is not None and not target["deleted"]:
                m["reply_to_message"] = self._message_json(target, with_reply=False)
        if rec["text"] is not None:
            m["text"] = rec["text"]
            if rec["entities"]:
                m["entities"] = rec["entities"]
            if rec["link_preview_options"]:
                m["link_preview_options"] = rec["link_preview_options"]
        if rec["document"] is not None:
            m["document"] = rec["document"]
        if rec["photo"] is not None:
            m["photo"] = rec["photo"]
        if rec["caption"]:
            m["caption"] = rec["caption"]
            if rec["caption_entities"]:
                m["caption_entities"] = rec["caption_entities"]
        markup = rec["reply_markup"]
        if markup is not None and "inline_keyboard" in markup:
            m["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return m
