"""Small helpers for answering: edit under a button press, tell someone else safely."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup

log = logging.getLogger(__name__)


def not_modified(exc: TelegramBadRequest) -> bool:
    """Telegram's answer to an edit that changes nothing: the message already shows it
    (a button pressed twice quickly, the same screen asked for again)."""
    return "message is not modified" in exc.message


async def say(
    event: Message | CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Answer in the chat; under a button press, replace that message (its buttons go)."""
    if isinstance(event, CallbackQuery):
        message = event.message
        if isinstance(message, Message):
            try:
                await message.edit_text(text, reply_markup=reply_markup)
                return
            except TelegramBadRequest as exc:
                if not_modified(exc):  # it shows this already: no second copy below
                    return
                log.debug("edit failed; sending a new message", exc_info=True)
            await message.answer(text, reply_markup=reply_markup)
        elif event.from_user is not None and event.bot is not None:
            await event.bot.send_message(event.from_user.id, text, reply_markup=reply_markup)
        return
    await event.answer(text, reply_markup=reply_markup)


async def tell(
    bot: Bot,
    chat_id: int,
    text: str,
    reply_markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
) -> bool:
    """A one-off message to someone else; a failure is logged, never raised."""
    try:
        await bot.send_message(chat_id, text, reply_markup=reply_markup)
    except TelegramAPIError as exc:
        log.warning("could not send to chat %s: %s", chat_id, exc)
        return False
    return True
