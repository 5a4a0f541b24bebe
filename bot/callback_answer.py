"""Every button press is answered once, by aiogram's CallbackAnswerMiddleware.

A callback handler takes `callback_answer: CallbackAnswer` and sets `.text` (a toast) and
`.show_alert` (an alert) when it has something to say; the middleware answers when the
handler returns. Before slow work, `await callback_answer.now()` answers at once (the
spinner stops); a handler registered with `flags={"callback_answer": {"pre": True}}`
is answered before it runs (it starts slow work at once).

An edit that changes nothing (Telegram's "message is not modified", a button pressed
twice quickly: both presses carry the old message) is not an error: the press is answered
as if the handler had returned.

A handler that raises anything else is not answered here: handlers/errors.py answers with
its apology, or, when the press was already answered (`answered_early`), sends it as a
message.
Flood control (bot/flow.py) answers the presses it drops itself; they never get here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram.dispatcher.flags import get_flag
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils import callback_answer as aiogram_callback_answer

from bot.replies import not_modified

log = logging.getLogger(__name__)

# The id of the press whose handler failed after it had been answered. A context variable:
# the error handler gets the update's data, not the callback handler's copy of it, but it
# runs in the same task.
_answered_then_failed: ContextVar[str | None] = ContextVar(
    "callback_answered_then_failed", default=None
)


class CallbackAnswer(aiogram_callback_answer.CallbackAnswer):
    """aiogram's CallbackAnswer, plus `now()`."""

    def __init__(self, query: CallbackQuery, **options: Any) -> None:
        super().__init__(answered=False, **options)
        self._query = query

    async def now(self) -> None:
        """Answer at once, with the text set so far; nothing can be changed afterwards."""
        if self.answered or self.disabled:
            return
        self._answered = True  # aiogram's own flag: later changes raise, no second answer
        try:
            await self._query.answer(
                text=self.text, show_alert=self.show_alert, url=self.url,
                cache_time=self.cache_time,
            )
        except TelegramBadRequest as exc:  # too late (the query expired): nothing to undo
            log.warning("could not answer callback query %s: %s", self._query.id, exc)


class CallbackAnswerMiddleware(aiogram_callback_answer.CallbackAnswerMiddleware):
    """Answers after the handler returned, never after it raised (see the module doc)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        flags = self.construct_callback_answer(get_flag(data, "callback_answer"))
        answer = data["callback_answer"] = CallbackAnswer(
            event,
            disabled=flags.disabled,
            text=flags.text,
            show_alert=flags.show_alert,
            url=flags.url,
            cache_time=flags.cache_time,
        )
        if flags.answered:  # the flag pre=True
            await answer.now()
        try:
            result = await handler(event, data)
        except TelegramBadRequest as exc:
            if not not_modified(exc):
                if answer.answered:
                    _answered_then_failed.set(event.id)
                raise
            log.debug("press %s: the message already shows it (%s)", event.id, exc.message)
            result = None
        except Exception:
            if answer.answered:
                _answered_then_failed.set(event.id)
            raise
        await answer.now()
        return result


def answered_early(query: CallbackQuery) -> bool:
    """Whether this press was answered before its handler failed (for the error handler)."""
    return _answered_then_failed.get() == query.id
