"""People talking to the bot in handler tests, and what they saw.

`Person` feeds updates through the real dispatcher; `texts` and `buttons` read the
requests the bot made. conftest.py only wraps these in fixtures.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiogram import Dispatcher
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User

from tests.mocked_bot import MockedBot

ADMIN_ID = 9000

_update_ids = itertools.count(1)


class Person:
    """A Telegram user talking to the bot through the real dispatcher."""

    def __init__(
        self, dp: Dispatcher, bot: MockedBot, user_id: int, first_name: str = "Test",
        language_code: str | None = "en",
    ) -> None:
        self.dp, self.bot = dp, bot
        self.user = User(
            id=user_id, is_bot=False, first_name=first_name, language_code=language_code
        )
        self.chat = Chat(id=user_id, type="private")
        self._message_ids = itertools.count(1)
        self.last_bot_message: Message | None = None

    async def feed(self, update: Update) -> list[TelegramMethod[Any]]:
        await self.dp.feed_update(self.bot, update)
        return self.bot.take_requests()

    def message(self, text: str | None = None, **fields: Any) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=self.user,
            text=text,
            **fields,
        )

    async def send(
        self, text: str, update_id: int | None = None, **fields: Any
    ) -> list[TelegramMethod[Any]]:
        uid = update_id if update_id is not None else next(_update_ids)
        return await self.feed(Update(update_id=uid, message=self.message(text, **fields)))

    async def send_media(self, **fields: Any) -> list[TelegramMethod[Any]]:
        """A message without text: photo=[PhotoSize...], document=Document(...), caption=..."""
        return await self.feed(Update(update_id=next(_update_ids), message=self.message(**fields)))

    async def press(
        self, data: str, message_id: int = 1, message_text: str = "…",
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> list[TelegramMethod[Any]]:
        """A button press; fails unless the bot answered it exactly once. `reply_markup`:
        the buttons the pressed message showed (Telegram sends them with the press)."""
        message = Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=self.chat,
            from_user=User(id=42, is_bot=True, first_name="Prevnet"),
            text=message_text,
            reply_markup=reply_markup,
        )
        query = CallbackQuery(
            id=str(next(_update_ids)),
            from_user=self.user,
            chat_instance="ci",
            message=message,
            data=data,
        )
        out = await self.feed(Update(update_id=next(_update_ids), callback_query=query))
        answers = [r for r in out if isinstance(r, AnswerCallbackQuery)]
        if len(answers) != 1 or answers[0].callback_query_id != query.id:
            # Telegram refuses a second answer; with none, the button spins for seconds.
            raise AssertionError(f"press {data!r} answered {len(answers)} times: {answers}")
        return out

    def find_button(self, label: str, *, contains: bool = False) -> tuple[int, str, str]:
        """(message id, message text, callback data) of the button labelled `label` on the
        newest message to this person that shows one; `contains` matches part of a label."""
        shown = self.bot.session.keyboards.get(self.user.id, {})
        for message_id, (text, row) in reversed(shown.items()):
            found = [b for b in row if (label in b.text if contains else b.text == label)]
            if len(found) > 1:
                raise AssertionError(
                    f"{len(found)} buttons match {label!r} on message {message_id}: "
                    f"{[b.text for b in found]}"
                )
            if found:
                return message_id, text, found[0].callback_data or ""
        seen = [[b.text for b in row] for _, row in reversed(shown.values())]
        raise AssertionError(
            f"no button {label!r} for user {self.user.id}; buttons seen, newest first: {seen}"
        )

    async def tap(self, label: str, *, contains: bool = False) -> list[TelegramMethod[Any]]:
        """Press the inline button this person sees with this visible text (newest message
        first), as a person would; `press(data)` stays for forged and stale callbacks."""
        message_id, text, data = self.find_button(label, contains=contains)
        return await self.press(data, message_id=message_id, message_text=text)


def texts(requests: list[TelegramMethod[Any]]) -> list[str]:
    """What the person saw: message texts, captions, edits and button-press alerts."""
    out: list[str] = []
    for r in requests:
        for attr in ("text", "caption"):
            value = getattr(r, attr, None)
            if isinstance(value, str):
                out.append(value)
    return out


def buttons(requests: list[TelegramMethod[Any]]) -> list[tuple[str, str]]:
    """(label, callback_data) of every inline button in the requests."""
    out: list[tuple[str, str]] = []
    for r in requests:
        markup = getattr(r, "reply_markup", None)
        for row in getattr(markup, "inline_keyboard", None) or []:
            for b in row:
                out.append((b.text, b.callback_data or b.url or ""))
    return out

