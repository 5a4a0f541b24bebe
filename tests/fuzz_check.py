"""The fake Bot API's formatting check (bot/sandbox/telegram/formatting.py) on every request a
MockedBot makes: what Telegram would refuse is recorded as a violation and answered with
the 400 Telegram would give, so the bot's own error paths run too.

Checked: texts and captions with ``parse_mode=HTML`` (unknown or unclosed tags, a bare
``<`` or ``&``), the 4096 / 1024 / 200 length limits in UTF-16 units after parsing, empty
texts, and inline buttons (a label, callback data of 1 to 64 bytes).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bot.sandbox.telegram.common import MAX_CALLBACK_DATA, MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH
from bot.sandbox.telegram.formatting import FormattingError, parse_html, trim_formatted, utf16_len
from tests.mocked_bot import MockedBot, MockedSession

MAX_ALERT_LENGTH = 200
_TEXT_METHODS = {"SendMessage", "EditMessageText"}
_CAPTION_METHODS = {
    "SendPhoto", "SendDocument", "SendVideo", "SendAnimation", "SendAudio", "SendVoice",
    "CopyMessage", "EditMessageCaption",
}


def _resolve(bot: Bot, value: Any) -> Any:
    return bot.default[value.name] if isinstance(value, Default) else value


def check_formatted(
    bot: Bot, raw: str | None, mode: Any, entities: Any, limit: int, *, required: bool
) -> str | None:
    """What Telegram would say about one text or caption, or None when it is accepted."""
    if raw is None or raw == "":
        return "message text is empty" if required else None
    mode = _resolve(bot, mode)
    if entities:
        text = raw
    elif isinstance(mode, str) and mode.lower() == "html":
        try:
            text, _ents = parse_html(raw, strict=True)
        except FormattingError as exc:
            return f"can't parse entities: {exc}"
    else:
        text = raw
    text, _ents = trim_formatted(text, None)
    if not text and required:
        return "message text is empty"
    if utf16_len(text) > limit:
        return f"message is too long ({utf16_len(text)} > {limit} UTF-16 units)"
    return None


def _check_markup(markup: Any) -> str | None:
    for row in getattr(markup, "inline_keyboard", None) or []:
        for button in row:
            if not isinstance(button.text, str) or not button.text.strip():
                return f"inline button without a label: {button!r}"
            data = button.callback_data
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                return f"BUTTON_DATA_INVALID: {data!r}"
    return None


def problems(bot: Bot, method: TelegramMethod[Any]) -> list[str]:
    """Every reason Telegram would refuse this request (none: it would be accepted)."""
    name = type(method).__name__
    found: list[str | None] = []
    if name in _TEXT_METHODS:
        found.append(check_formatted(
            bot, method.text, method.parse_mode, method.entities,  # type: ignore[attr-defined]
            MAX_TEXT_LENGTH, required=True,
        ))
    elif name in _CAPTION_METHODS:
        found.append(check_formatted(
            bot, getattr(method, "caption", None), getattr(method, "parse_mode", None),
            getattr(method, "caption_entities", None), MAX_CAPTION_LENGTH, required=False,
        ))
    elif name == "SendMediaGroup":
        for item in method.media:  # type: ignore[attr-defined]
            found.append(check_formatted(
                bot, item.caption, item.parse_mode, item.caption_entities,
                MAX_CAPTION_LENGTH, required=False,
            ))
    elif name == "AnswerCallbackQuery":
        text = method.text  # type: ignore[attr-defined]
        if text is not None and utf16_len(text) > MAX_ALERT_LENGTH:
            found.append(f"MESSAGE_TOO_LONG: a {utf16_len(text)}-unit answer")
    found.append(_check_markup(getattr(method, "reply_markup", None)))
    return [f"{name}: {p}" for p in found if p]


class CheckedSession(MockedSession):
    """A MockedSession that refuses, like Telegram, what the formatting check refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.violations: list[tuple[str, TelegramMethod[Any]]] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        found = problems(bot, method)
        if found:
            self.violations.extend((p, method) for p in found)
            self.queued.appendleft(
                (400, {"ok": False, "error_code": 400, "description": f"Bad Request: {found[0]}"})
            )
        return await super().make_request(bot, method, timeout)


class CheckedBot(MockedBot):
    session: CheckedSession

    def __init__(self) -> None:
        super().__init__()
        self.session = CheckedSession()
