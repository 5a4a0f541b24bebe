"""An in-memory fake of the Telegram Bot API (https://core.telegram.org/bots/api).

Point aiogram at it with::

    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session)

Bot-side: ``{base}/bot{token}/{method}`` (GET/POST; query string, JSON,
x-www-form-urlencoded or multipart/form-data) and ``{base}/file/bot{token}/{file_path}``.

Test-side ("users"): the Python methods of FakeBotAPI (add_user, send_message, press_button,
messages, wait_for_message, stats, ...) and the same over HTTP under ``{base}/_test/``.

Only private chats with known users exist. Everything is kept in memory; per-request work
is O(1) so the server sustains thousands of sendMessage calls per second.

FakeBotAPI is put together from mixins, one module each: state (chats, message records,
reset), http_server (start/stop, routing), parsing (parameter checks), files, menus (getMe,
commands, descriptions, menu buttons, chat info), updates (getUpdates), webhook, sending,
editing (edits and deletes), callbacks (answerCallbackQuery), users (acting as a person),
reading (the bot's messages, waiting for them), control (rate limits, failures, delays, the
call log, stats) and remote (the same test side over ``/_test/``). common holds the shared
constants and helpers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .callbacks import CallbacksMixin
from .common import (  # noqa: F401
    _BUTTON_ACTIONS,
    _EDIT_FIELDS,
    _MISSING,
    _NOT_MODIFIED,
    _RECORD_TEMPLATE,
    _TINY_PNG,
    CHAT_ACTIONS,
    DEFAULT_UPDATE_TYPES_EXCLUDED,
    MAX_CALLBACK_DATA,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_SIZE,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_SIZE,
    PAID_BROADCAST_RATE,
    SEND_METHODS,
    ApiError,
    _bad,
    _Chat,
    _dumps,
    _image_size,
    _json_param,
    _private_chat_json,
    _to_bool,
    _to_int,
    _Upload,
    log,
)
from .control import ControlMixin
from .editing import EditingMixin
from .files import FilesMixin
from .formatting import (  # noqa: F401
    FormattingError,
    command_entity,
    parse_html,
    trim_formatted,
)
from .http_server import HttpServerMixin
from .menus import MenusMixin
from .parsing import ParsingMixin
from .reading import ReadingMixin
from .remote import RemoteMixin
from .sending import SendingMixin
from .state import StateMixin
from .updates import UpdatesMixin
from .users import UsersMixin
from .webhook import WebhookMixin

# The names imported from .common and .formatting (noqa: F401) are re-exported: they
# lived in this module before it was split.
__all__ = ["ApiError", "FakeBotAPI"]


class FakeBotAPI(
    StateMixin,
    HttpServerMixin,
    ParsingMixin,
    FilesMixin,
    MenusMixin,
    UpdatesMixin,
    WebhookMixin,
    SendingMixin,
    EditingMixin,
    CallbacksMixin,
    UsersMixin,
    ReadingMixin,
    ControlMixin,
    RemoteMixin,
):
    """A fake Telegram Bot API server. See the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        host: str = "127.0.0.1",
        port: int = 0,
        bot_id: int = 123456,
        bot_username: str = "prevnet_test_bot",
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        retry_after: int = 1,
        *,
        bot_first_name: str = "Prevnet Test Bot",
        strict_html: bool = True,
        max_calls: int = 10_000,
        first_update_id: int = 1,
    ) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.retry_after = retry_after
        self.strict_html = strict_html
        self._bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._max_calls = max_calls
        self._first_update_id = first_update_id
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any], bool]] = {}
        for attr in dir(self):
            if attr.startswith("_api_"):
                func = getattr(self, attr)
                canonical = attr[5:]
                self._methods[canonical.lower()] = (
                    canonical,
                    func,
                    asyncio.iscoroutinefunction(func),
                )
        self._file_prefix = secrets.token_hex(3)
        self._reset_state(keep_users=False)
