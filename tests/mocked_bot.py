"""A Bot whose session records every API call (aiogram's MockedSession pattern).

Answers come from a FIFO of queued responses when there are any (to inject Telegram
errors), otherwise a plausible result is made for the methods the bot uses. A method the
mock does not know fails loudly, so a test never passes on a silently ignored call.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardButton

BOT_ID = 42
BOT_USERNAME = "prevnet_test_bot"


class MockedSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.queued: deque[tuple[int, dict[str, Any]]] = deque()
        self.requests: list[TelegramMethod[Any]] = []
        self._message_ids = itertools.count(1000)
        # chat id -> message id -> (text, inline buttons) of the messages still showing
        # buttons, most recently sent or edited last: what a person could tap.
        self.keyboards: dict[int, dict[int, tuple[str, list[InlineKeyboardButton]]]] = {}

    def add_error(self, status: int, description: str, **parameters: Any) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.queued.append((status, body))

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.requests.append(method)
        if self.queued:
            status, body = self.queued.popleft()
        else:
            status, body = 200, {"ok": True, "result": self._result(method)}
        response = self.check_response(bot, method, status, json.dumps(body))
        if status == 200:
            self._track_keyboard(method, response.result)
        return response.result  # type: ignore[return-value]

    def _track_keyboard(self, method: TelegramMethod[Any], result: Any) -> None:
        name = type(method).__name__
        chat_id = getattr(method, "chat_id", None)
        if not isinstance(chat_id, int):
            return
        shown = self.keyboards.setdefault(chat_id, {})
        if name == "DeleteMessage":
            shown.pop(method.message_id, None)  # type: ignore[attr-defined]
            return
        if name.startswith("EditMessage"):
            message_id = method.message_id  # type: ignore[attr-defined]
            old_text = shown.pop(message_id, ("…", []))[0]
        elif name.startswith("Send") or name == "CopyMessage":
            message_id = getattr(result, "message_id", None)
            old_text = "…"
        else:
            return
        text = getattr(method, "text", None) or getattr(method, "caption", None) or old_text
        markup = getattr(method, "reply_markup", None)
        rows = getattr(markup, "inline_keyboard", None) or []
        buttons = [b for row in rows for b in row if b.callback_data]
        if buttons and isinstance(message_id, int):
            shown[message_id] = (text, buttons)

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # pragma: no cover - not used by the bot
        yield b""

    def _message(self, method: TelegramMethod[Any], **extra: Any) -> dict[str, Any]:
        chat_id = getattr(method, "chat_id", 0)
        return {
            "message_id": getattr(method, "message_id", None) or next(self._message_ids),
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Prevnet"},
            **extra,
        }

    def _result(self, method: TelegramMethod[Any]) -> Any:
        name = type(method).__name__
        if name == "GetMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Prevnet",
                    "username": BOT_USERNAME}
        if name in {"SendMessage", "EditMessageText"}:
            return self._message(method, text=method.text)  # type: ignore[attr-defined]
        if name == "SendDocument":
            doc = {"file_id": "doc1", "file_unique_id": "u1", "file_name": "file"}
            return self._message(method, document=doc)
        if name == "SendPhoto":
            photo = [{"file_id": "ph1", "file_unique_id": "u2", "width": 1, "height": 1}]
            return self._message(method, photo=photo)
        if name == "CopyMessage":
            return {"message_id": next(self._message_ids)}
        if name in {
            "AnswerCallbackQuery", "SetMyCommands", "DeleteMyCommands", "EditMessageReplyMarkup",
            "DeleteMessage", "SendChatAction", "SetChatMenuButton", "LeaveChat",
        }:
            return True
        raise AssertionError(f"MockedSession does not know how to answer {name}")


class MockedBot(Bot):
    session: MockedSession

    def __init__(self) -> None:
        super().__init__(
            f"{BOT_ID}:TEST",
            session=MockedSession(),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )

    def take_requests(self) -> list[TelegramMethod[Any]]:
        requests = list(self.session.requests)
        self.session.requests.clear()
        return requests
