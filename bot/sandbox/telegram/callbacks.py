"""Callback queries: answerCallbackQuery, and what tests read of the answers.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .common import _bad, _to_bool, _to_int


class CallbacksMixin:
    """The bot side of inline-button presses (the user side is press_button in users.py)."""

    def _api_answerCallbackQuery(self, p: dict[str, Any]) -> bool:
        qid = p.get("callback_query_id")
        query = self._callback_queries.get(str(qid)) if qid not in (None, "") else None
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        answer = {
            "callback_query_id": str(qid),
            "text": text,
            "show_alert": _to_bool(p.get("show_alert", False)),
            "url": p.get("url"),
            "cache_time": _to_int(p.get("cache_time")) or 0,
            "data": query["data"],
            "message_id": query["message_id"],
            "time": time.time(),
        }
        self._callback_answers.setdefault(query["user_id"], []).append(answer)
        if self._answer_waiters:
            self._wake(self._answer_waiters)
        return True

    async def wait_for_callback_answer(
        self, user_id: int, timeout: float = 10.0, after: int = 0
    ) -> dict[str, Any]:
        """Wait until the bot answered a callback query of this user (answer index >= after)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            answers = self._callback_answers.get(int(user_id), [])
            if len(answers) > after:
                return answers[after]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no callback answer for user {user_id} within {timeout}s")
            fut: asyncio.Future[None] = loop.create_future()
            self._answer_waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass
            finally:
                if fut in self._answer_waiters:
                    self._answer_waiters.remove(fut)

    def callback_answers(self, user_id: int) -> list[dict[str, Any]]:
        """answerCallbackQuery calls for this user's queries (text, show_alert, url, data, ...)."""
        return list(self._callback_answers.get(int(user_id), []))
