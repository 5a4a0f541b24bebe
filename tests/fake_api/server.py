"""An in-memory fake of the Telegram Bot API (https://core.telegram.org/bots/api).

Point aiogram at it with::

    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session)

Bot-side: ``{base}/bot{token}/{method}`` (GET/POST; query string, JSON,
x-www-form-urlencoded or multipart/form-data) and ``{base}/file/bot{token}/{file_path}``.

Test-side ("users"): the Python methods below (add_user, send_message, press_button,
messages, wait_for_message, stats, ...) and the same over HTTP under ``{base}/_test/``.

Only private chats with known users exist. Everything is kept in memory; per-request work
is O(1) so the server sustains thousands of sendMessage calls per second.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import mimetypes
import secrets
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from .formatting import FormattingError, command_entity, parse_html, trim_formatted

__all__ = ["ApiError", "FakeBotAPI"]

log = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA = 64
MAX_UPLOAD_SIZE = 50 * 1024 * 1024
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
PAID_BROADCAST_RATE = 1000.0

SEND_METHODS = frozenset(
    {"sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage", "sendmediagroup"}
)
DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_MISSING = object()

# Fields every message record has (see FakeBotAPI.messages()).
_RECORD_TEMPLATE: dict[str, Any] = {
    "index": None,
    "chat_id": 0,
    "message_id": 0,
    "method": None,
    "from_bot": True,
    "date": 0,
    "text": None,
    "raw_text": None,
    "parse_mode": None,
    "entities": None,
    "caption": None,
    "raw_caption": None,
    "caption_entities": None,
    "reply_markup": None,
    "document": None,
    "photo": None,
    "media_group_id": None,
    "reply_to_message_id": None,
    "link_preview_options": None,
    "protect_content": False,
    "disable_notification": False,
    "allow_paid_broadcast": False,
    "forward_origin": None,
    "copied_from": None,
    "edit_date": None,
    "edits": None,
    "deleted": False,
}
_EDIT_FIELDS = (
    "method",
    "text",
    "raw_text",
    "parse_mode",
    "entities",
    "caption",
    "raw_caption",
    "caption_entities",
    "reply_markup",
    "edit_date",
)


class ApiError(Exception):
    """An error response of the Bot API."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.code}
        out["description"] = self.description
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


class _Upload:
    __slots__ = ("content_type", "data", "filename")

    def __init__(self, filename: str, content_type: str | None, data: bytes):
        self.filename = filename
        self.content_type = content_type
        self.data = data

    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "size": len(self.data)}


class _Chat:
    __slots__ = (
        "blocked",
        "bot_messages",
        "deactivated",
        "id",
        "instance",
        "json",
        "messages",
        "next_message_id",
        "user",
        "waiters",
    )

    def __init__(self, user: dict[str, Any]):
        self.id: int = user["id"]
        self.user = user
        self.json = _private_chat_json(user)
        self.blocked = False
        self.deactivated = False
        self.next_message_id = 1
        self.messages: dict[int, dict[str, Any]] = {}
        self.bot_messages: list[dict[str, Any]] = []
        self.waiters: list[asyncio.Future[None]] = []
        self.instance = str(-((self.id * 2654435761 + 0x5DEECE66D) % 10**18 + 10**18))


def _private_chat_json(user: dict[str, Any]) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    if user.get("last_name"):
        chat["last_name"] = user["last_name"]
    if user.get("username"):
        chat["username"] = user["username"]
    return chat


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _json_param(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error) from None
    return value


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width/height of a PNG, GIF or JPEG, if cheap to tell."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode()


class FakeBotAPI:
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

    # ------------------------------------------------------------------ state

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

    # -------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._base_url

    @property
    def api_server(self) -> Any:
        """An aiogram TelegramAPIServer pointing at this fake."""
        from aiogram.client.telegram import TelegramAPIServer

        return TelegramAPIServer.from_base(self.base_url)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/_test/{action:.+}", self._handle_test)
        return app

    async def start(self) -> str:
        if self._runner is not None:
            return self.base_url
        self._closing = False
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self.port
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                port = int(address[1])
                break
        self.port = port
        self._base_url = f"http://{self.host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        self._closing = True
        task = self._webhook_task
        self._stop_webhook_worker()
        if task is not None:
            await asyncio.wait([task])
        self._wake(self._poll_waiters)
        self._wake(self._confirm_waiters)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ HTTP

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], bool]:
        params: dict[str, Any] = dict(request.query) if request.query_string else {}
        uploads = False
        if not request.body_exists:
            return params, uploads
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON object") from None
            if isinstance(body, dict):
                params.update(body)
            elif body is not None:
                raise _bad("can't parse JSON object")
        elif ctype == "multipart/form-data":
            reader = await request.multipart()
            total = 0
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                name = part.name or ""
                if part.filename is not None:
                    chunks = []
                    while True:
                        chunk = await part.read_chunk(1 << 16)
                        if not chunk:
                            break
                        total += len(chunk)
                        if total > MAX_UPLOAD_SIZE:
                            raise ApiError(413, "Request Entity Too Large")
                        chunks.append(chunk)
                    params[name] = _Upload(
                        part.filename, part.headers.get("Content-Type"), b"".join(chunks)
                    )
                    uploads = True
                else:
                    params[name] = await part.text()
        else:
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            for key, value in form.items():
                params[key] = value
        return params, uploads

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(
                body=_dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}),
                status=401,
                content_type="application/json",
            )
        method = request.match_info["method"]
        try:
            params, uploads = await self._read_params(request)
        except ApiError as exc:
            return web.Response(
                body=_dumps(exc.payload()), status=exc.code, content_type="application/json"
            )
        outcome = await self._invoke(method, params, uploads, request)
        if outcome is None:  # the client went away during an injected delay
            return web.Response(status=499)
        status, payload = outcome
        return web.Response(body=_dumps(payload), status=status, content_type="application/json")

    async def _invoke(
        self,
        method: str,
        params: dict[str, Any],
        uploads: bool = False,
        request: web.Request | None = None,
    ) -> tuple[int, dict[str, Any]] | None:
        key = method.lower()
        entry = self._methods.get(key)
        canonical = entry[0] if entry is not None else method
        counts = self._method_counts
        counts[canonical] = counts.get(canonical, 0) + 1
        delay = self._delays.get(key) or self._delays.get("*") if self._delays else None
        if delay is not None and delay[1] == "before":
            await asyncio.sleep(delay[0])
            if request is not None and (
                request.transport is None or request.transport.is_closing()
            ):
                self._log_call(canonical, params, uploads, None, 499, "client disconnected")
                return None
        try:
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            if self._failures:
                self._maybe_fail(key)
            _, func, is_async = entry
            result = await func(params) if is_async else func(params)
            status, payload = 200, {"ok": True, "result": result}
            self._log_call(canonical, params, uploads, result, None, None)
        except ApiError as exc:
            status, payload = exc.code, exc.payload()
            errors = self._error_counts
            errors[exc.code] = errors.get(exc.code, 0) + 1
            if exc.code == 429:
                self._too_many += 1
            self._log_call(canonical, params, uploads, None, exc.code, exc.description)
        except Exception as exc:  # a bug of the fake: make it loud but keep serving
            log.exception("fake Bot API failed on %s", canonical)
            description = f"Internal Server Error: fake Bot API bug: {exc!r}"
            status, payload = 500, ApiError(500, description).payload()
            self._log_call(canonical, params, uploads, None, 500, description)
        if delay is not None and delay[1] == "after":
            await asyncio.sleep(delay[0])
        return status, payload

    def _maybe_fail(self, key: str) -> None:
        queue = self._failures.get(key) or self._failures.get("*")
        if not queue:
            return
        code, description, retry_after = queue.popleft()
        if not queue:
            for k, v in list(self._failures.items()):
                if v is queue:
                    del self._failures[k]
        raise ApiError(
            code, description, {"retry_after": retry_after} if retry_after is not None else None
        )

    def _log_call(
        self,
        method: str,
        params: dict[str, Any],
        uploads: bool,
        result: Any,
        error_code: int | None,
        description: str | None,
    ) -> None:
        if not self._max_calls:
            return
        if uploads:
            params = {k: v.summary() if isinstance(v, _Upload) else v for k, v in params.items()}
        entry: dict[str, Any] = {"method": method, "params": params, "time": time.time()}
        if error_code is None:
            entry["ok"] = True
            entry["result"] = result
        else:
            entry["ok"] = False
            entry["error_code"] = error_code
            entry["description"] = description
        self._calls.append(entry)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(
                body=_dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}),
                status=401,
                content_type="application/json",
            )
        rec = self._files_by_path.get(request.match_info["path"])
        if rec is None:
            return web.Response(
                body=_dumps({"ok": False, "error_code": 404, "description": "Not Found"}),
                status=404,
                content_type="application/json",
            )
        return web.Response(
            body=rec["content"], content_type=rec.get("mime_type") or "application/octet-stream"
        )

    # ------------------------------------------------------------ helpers

    def _chat(self, value: Any, field: str = "chat_id") -> _Chat:
        if value is None or value == "":
            raise _bad(f"{field} is empty")
        chat_id = _to_int(value)
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _message_id(self, value: Any) -> int:
        if value is None or value == "":
            raise _bad("message identifier is not specified")
        mid = _to_int(value)
        if mid is None:
            raise _bad("message identifier is not specified")
        return mid

    def _format(
        self,
        p: dict[str, Any],
        field: str,
        mode_field: str,
        entities_field: str,
        limit: int,
        too_long: str,
    ) -> tuple[str, list[dict[str, Any]] | None, str, str | None]:
        raw = p.get(field)
        if raw is None:
            raw = ""
        elif not isinstance(raw, str):
            raw = json.dumps(raw) if isinstance(raw, dict | list) else str(raw)
        mode = p.get(mode_field) or None
        ents_param = p.get(entities_field)
        entities: list[dict[str, Any]] | None
        if ents_param not in (None, "", "[]", []):
            entities = _json_param(ents_param, "can't parse entities JSON object")
            if not isinstance(entities, list) or not all(
                isinstance(e, dict) and "type" in e and "offset" in e and "length" in e
                for e in entities
            ):
                raise _bad("can't parse entities JSON object")
            text = raw
        elif mode is not None:
            if not isinstance(mode, str):
                raise _bad("unsupported parse_mode")
            lowered = mode.lower()
            if lowered == "html":
                if "<" in raw or "&" in raw:
                    try:
                        text, entities = parse_html(raw, strict=self.strict_html)
                    except FormattingError as exc:
                        raise _bad(f"can't parse entities: {exc}") from None
                else:
                    text, entities = raw, None
            elif lowered in ("markdown", "markdownv2"):
                # Markdown modes are not parsed by the fake: the text is kept verbatim.
                text, entities = raw, None
            else:
                raise _bad("unsupported parse_mode")
        else:
            text, entities = raw, None
        if entities:
            for ent in entities:
                if ent["type"] == "text_mention" and isinstance(ent.get("user"), dict):
                    known = self._chats.get(_to_int(ent["user"].get("id")) or 0)
                    if known is not None:
                        ent["user"] = known.user
        text, entities = trim_formatted(text, entities)
        if len(text) > limit:
            raise _bad(too_long)
        return text, entities or None, raw, mode

    def _markup(self, p: dict[str, Any], inline_only: bool = False) -> dict[str, Any] | None:
        raw = p.get("reply_markup")
        if raw is None or raw == "":
            return None
        markup = _json_param(raw, "can't parse reply keyboard markup JSON object")
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad(
                    'field "inline_keyboard" of the InlineKeyboardMarkup '
                    "should be an Array of Arrays"
                )
            count = 0
            for row in rows:
                for button in row:
                    count += 1
                    self._check_button(button)
            if count > 100:
                raise _bad("reply markup is too long")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad(
                    'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            return markup
        if "remove_keyboard" in markup or "force_reply" in markup:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        if not isinstance(button.get("text"), str):
            raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        if not any(k in button for k in _BUTTON_ACTIONS):
            raise _bad(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not url.lower().startswith(
                ("http://", "https://", "tg://")
            ):
                raise _bad("BUTTON_URL_INVALID")

    def _reply_to(self, chat: _Chat, p: dict[str, Any]) -> int | None:
        target = None
        allow = _to_bool(p.get("allow_sending_without_reply", False))
        rp = p.get("reply_parameters")
        if rp not in (None, ""):
            rp = _json_param(rp, "can't parse reply parameters JSON object")
            if not isinstance(rp, dict):
                raise _bad("can't parse reply parameters JSON object")
            target = _to_int(rp.get("message_id"))
            allow = _to_bool(rp.get("allow_sending_without_reply", allow))
            other = rp.get("chat_id")
            if other not in (None, "") and _to_int(other) != chat.id:
                raise _bad("replies to messages in other chats are not supported by the fake")
        elif p.get("reply_to_message_id") not in (None, ""):
            target = _to_int(p.get("reply_to_message_id"))
        if target is None:
            return None
        rec = chat.messages.get(target)
        if rec is None or rec["deleted"]:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return target

    def _link_preview(self, p: dict[str, Any]) -> dict[str, Any] | None:
        lpo = p.get("link_preview_options")
        if lpo not in (None, ""):
            lpo = _json_param(lpo, "can't parse link preview options JSON object")
            if not isinstance(lpo, dict):
                raise _bad("can't parse link preview options JSON object")
            return lpo
        if _to_bool(p.get("disable_web_page_preview", False)):
            return {"is_disabled": True}
        return None

    def _admit_send(self, chat: _Chat, p: dict[str, Any], count: int = 1) -> None:
        """Rate limits, then blocked/deactivated checks, for a message-sending call."""
        now = time.monotonic()
        cutoff = now - 1.0
        window = self._global_window
        while window and window[0] <= cutoff:
            window.popleft()
        paid = _to_bool(p.get("allow_paid_broadcast", False))
        cap = PAID_BROADCAST_RATE if paid else self.global_rate
        if cap is not None and len(window) + count > cap:
            raise self._too_many_requests()
        chat_window = None
        if self.per_chat_rate is not None:
            chat_window = self._chat_windows.get(chat.id)
            if chat_window is None:
                chat_window = self._chat_windows[chat.id] = deque()
            while chat_window and chat_window[0] <= cutoff:
                chat_window.popleft()
            if len(chat_window) + count > self.per_chat_rate:
                raise self._too_many_requests()
        for _ in range(count):
            window.append(now)
            if chat_window is not None:
                chat_window.append(now)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")

    def _too_many_requests(self) -> ApiError:
        n = self.retry_after
        return ApiError(429, f"Too Many Requests: retry after {n}", {"retry_after": n})

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

    # ---------------------------------------------------------------- files

    def _store_file(
        self,
        kind: str,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> dict[str, Any]:
        n = next(self._file_counter)
        prefix = "AgACAgIAAxkBAAI" if kind == "photo" else "BQACAgIAAxkBAAI"
        if kind == "document" and (not mime_type or mime_type == "application/octet-stream"):
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or mime_type or "application/octet-stream"
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1][:10]
        elif kind == "photo":
            ext = ".jpg"
        folder = "photos" if kind == "photo" else "documents"
        rec: dict[str, Any] = {
            "file_id": f"{prefix}{self._file_prefix}{n:08d}",
            "file_unique_id": f"AgAD{self._file_prefix}{n:06d}",
            "kind": kind,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
            "file_path": f"{folder}/file_{n}{ext}",
            "content": content,
        }
        if kind == "document":
            doc: dict[str, Any] = {
                "file_id": rec["file_id"],
                "file_unique_id": rec["file_unique_id"],
            }
            if file_name:
                doc["file_name"] = file_name
            doc["mime_type"] = mime_type
            doc["file_size"] = len(content)
            rec["public"] = doc
            self._files[rec["file_id"]] = rec
        else:
            width, height = _image_size(content) or (1280, 720)
            scale = min(1.0, 320 / max(width, height, 1))
            small_id = f"{prefix}{self._file_prefix}{n:08d}s"
            sizes = [
                {
                    "file_id": small_id,
                    "file_unique_id": f"AQAD{self._file_prefix}{n:06d}s",
                    "file_size": len(content),
                    "width": max(1, int(width * scale)),
                    "height": max(1, int(height * scale)),
                },
                {
                    "file_id": rec["file_id"],
                    "file_unique_id": rec["file_unique_id"],
                    "file_size": len(content),
                    "width": width,
                    "height": height,
                },
            ]
            rec["public"] = sizes
            self._files[rec["file_id"]] = rec
            small = dict(rec)
            small["file_id"] = small_id
            small["file_unique_id"] = sizes[0]["file_unique_id"]
            small["file_path"] = f"{folder}/file_{n}s{ext}"
            self._files[small_id] = small
            self._files_by_path[small["file_path"]] = small
        self._files_by_path[rec["file_path"]] = rec
        return rec

    def _input_file(self, p: dict[str, Any], field: str, kind: str) -> dict[str, Any]:
        value = p.get(field)
        if value is None or value == "":
            raise _bad(f"there is no {field} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value[9:])
            if not isinstance(value, _Upload):
                raise _bad("wrong file identifier/HTTP URL specified")
        if isinstance(value, _Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            return self._store_file(kind, value.data, value.filename, value.content_type)
        if not isinstance(value, str):
            raise _bad("wrong file identifier/HTTP URL specified")
        if value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        rec = self._files.get(value.strip())
        if rec is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if rec["kind"] != kind:
            raise _bad(f"can't use file of type {rec['kind'].capitalize()} as {kind.capitalize()}")
        return rec

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (uploaded by the bot or sent by a user)."""
        return self._files[file_id]["content"]

    def file_info(self, file_id: str) -> dict[str, Any]:
        """Metadata of a stored file (file_id, file_unique_id, kind, file_name, ...)."""
        rec = self._files[file_id]
        return {k: v for k, v in rec.items() if k not in ("content", "public")}

    # ============================================================ bot methods

    def _api_getMe(self, p: dict[str, Any]) -> dict[str, Any]:
        me = dict(self._bot_user)
        me.update(
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return me

    def _api_logOut(self, p: dict[str, Any]) -> bool:
        return True

    def _api_close(self, p: dict[str, Any]) -> bool:
        return True

    # -- webhook

    def _api_setWebhook(self, p: dict[str, Any]) -> bool:
        url = p.get("url") or ""
        if not isinstance(url, str):
            raise _bad("bad webhook: invalid URL")
        if _to_bool(p.get("drop_pending_updates", False)):
            self._drop_pending()
        if not url:
            self._webhook = {}
            self._stop_webhook_worker()
            return True
        if not url.lower().startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token") or None
        if secret is not None:
            ok = isinstance(secret, str) and 1 <= len(secret) <= 256
            if not ok or any(not (c.isascii() and (c.isalnum() or c in "_-")) for c in secret):
                raise _bad("secret token contains unallowed characters")
        max_conn = _to_int(p.get("max_connections")) or 40
        allowed = p.get("allowed_updates")
        if allowed not in (None, ""):
            self._set_allowed_updates(allowed)
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max(1, min(100, max_conn)),
            "ip_address": p.get("ip_address"),
        }
        self._webhook_error = None
        self._start_webhook_worker()
        return True

    def _api_deleteWebhook(self, p: dict[str, Any]) -> bool:
        if _to_bool(p.get("drop_pending_updates", False)):
            self._drop_pending()
        self._webhook = {}
        self._stop_webhook_worker()
        return True

    def _api_getWebhookInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.webhook_info

    @property
    def webhook_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("ip_address"):
                info["ip_address"] = self._webhook["ip_address"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    # -- commands & bot profile

    @staticmethod
    def _scope_key(p: dict[str, Any]) -> str:
        scope = p.get("scope")
        if scope in (None, ""):
            return "default"
        scope = _json_param(scope, "can't parse BotCommandScope JSON object")
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        key = str(scope["type"])
        if key not in (
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            raise _bad("wrong BotCommandScope type specified")
        if "chat_id" in scope:
            key += f":{scope['chat_id']}"
        if "user_id" in scope:
            key += f":{scope['user_id']}"
        return key

    @staticmethod
    def _language(p: dict[str, Any]) -> str:
        lang = p.get("language_code") or ""
        if not isinstance(lang, str) or (lang and (len(lang) != 2 or not lang.isalpha())):
            raise _bad("invalid language code specified")
        return lang

    def _api_setMyCommands(self, p: dict[str, Any]) -> bool:
        commands = _json_param(p.get("commands"), "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        clean = []
        for cmd in commands:
            if not isinstance(cmd, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = cmd.get("command")
            desc = cmd.get("description")
            if not isinstance(name, str) or not isinstance(desc, str):
                raise _bad("can't parse BotCommand JSON object")
            name = name.lstrip("/")
            if not 1 <= len(name) <= 32 or not all(
                c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in name
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(desc.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": desc})
        key = (self._scope_key(p), self._language(p))
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _api_getMyCommands(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self._commands.get((self._scope_key(p), self._language(p)), []))

    def _api_deleteMyCommands(self, p: dict[str, Any]) -> bool:
        self._commands.pop((self._scope_key(p), self._language(p)), None)
        return True

    @property
    def commands(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """setMyCommands state: {(scope_key, language_code): [{"command", "description"}]}.

        scope_key is "default", "all_private_chats", "chat:<chat_id>", "chat_member:<c>:<u>", ...
        and language_code is "" for the default language.
        """
        return {k: list(v) for k, v in self._commands.items()}

    def get_commands(self, scope: str = "default", language_code: str = "") -> list[dict]:
        return list(self._commands.get((scope, language_code), []))

    def _set_text_setting(self, p: dict[str, Any], field: str, limit: int) -> bool:
        value = p.get(field) or ""
        if not isinstance(value, str):
            raise _bad(f"can't parse {field}")
        if len(value) > limit:
            raise _bad(f"{field} is too long" if field != "name" else "BOT_TITLE_INVALID")
        key = (field, self._language(p))
        if value:
            self._descriptions[key] = value
        else:
            self._descriptions.pop(key, None)
        return True

    def _get_text_setting(self, p: dict[str, Any], field: str) -> dict[str, str]:
        lang = self._language(p)
        value = self._descriptions.get((field, lang))
        if value is None:
            value = self._descriptions.get((field, ""), "")
        return {field: value}

    def _api_setMyDescription(self, p: dict[str, Any]) -> bool:
        return self._set_text_setting(p, "description", 512)

    def _api_getMyDescription(self, p: dict[str, Any]) -> dict[str, str]:
        return self._get_text_setting(p, "description")

    def _api_setMyShortDescription(self, p: dict[str, Any]) -> bool:
        return self._set_text_setting(p, "short_description", 120)

    def _api_getMyShortDescription(self, p: dict[str, Any]) -> dict[str, str]:
        return self._get_text_setting(p, "short_description")

    def _api_setMyName(self, p: dict[str, Any]) -> bool:
        return self._set_text_setting(p, "name", 64)

    def _api_getMyName(self, p: dict[str, Any]) -> dict[str, str]:
        result = self._get_text_setting(p, "name")
        if not result["name"]:
            result["name"] = self._bot_user["first_name"]
        return result

    @property
    def bot_settings(self) -> dict[str, str]:
        """Stored description/short_description/name: {"field" or "field:lang": value}."""
        return {(f"{f}:{lang}" if lang else f): v for (f, lang), v in self._descriptions.items()}

    def _api_setChatMenuButton(self, p: dict[str, Any]) -> bool:
        chat_id = None
        if p.get("chat_id") not in (None, ""):
            chat_id = self._chat(p.get("chat_id")).id
        button = p.get("menu_button")
        if button in (None, ""):
            self._menu_buttons.pop(chat_id, None)
            return True
        button = _json_param(button, "can't parse menu button JSON object")
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = button
        return True

    def _api_getChatMenuButton(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = None
        if p.get("chat_id") not in (None, ""):
            chat_id = self._chat(p.get("chat_id")).id
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        if button is None or button.get("type") == "default":
            return {"type": "commands"}
        return button

    @property
    def menu_buttons(self) -> dict[int | None, dict[str, Any]]:
        """setChatMenuButton state: {chat_id or None (default): menu_button}."""
        return dict(self._menu_buttons)

    # -- chats

    def _api_sendChatAction(self, p: dict[str, Any]) -> bool:
        chat = self._chat(p.get("chat_id"))
        action = p.get("action")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.deactivated:
            raise ApiError(403, "Forbidden: user is deactivated")
        return True

    def _api_getChat(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        info = dict(chat.json)
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        )
        return info

    # -- updates

    def _set_allowed_updates(self, value: Any) -> None:
        allowed = _json_param(value, "can't parse allowed updates JSON object")
        if not isinstance(allowed, list):
            raise _bad("can't parse allowed updates JSON object")
        self._allowed_updates = frozenset(str(a) for a in allowed) if allowed else None

    async def _api_getUpdates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _to_int(p.get("offset")) if p.get("offset") not in (None, "") else None
        limit = _to_int(p.get("limit")) if p.get("limit") not in (None, "") else 100
        limit = max(1, min(100, limit or 100))
        timeout = _to_int(p.get("timeout")) if p.get("timeout") not in (None, "") else 0
        timeout = max(0, timeout or 0)
        if p.get("allowed_updates") not in (None, ""):
            self._set_allowed_updates(p.get("allowed_updates"))
        self._poll_generation += 1
        generation = self._poll_generation
        if self._poll_waiters:  # terminate an older long poll
            self._wake(self._poll_waiters)
        self._confirm(offset)
        batch = self._take(limit)
        if batch or timeout == 0 or self._closing:
            return batch
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            fut: asyncio.Future[None] = loop.create_future()
            self._poll_waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass
            finally:
                if fut in self._poll_waiters:
                    self._poll_waiters.remove(fut)
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._webhook:
                raise ApiError(409, "Conflict: terminated by setWebhook request")
            batch = self._take(limit)
            if batch:
                return batch

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        queue = self._queue
        before = len(queue) + len(self._forced)
        if offset < 0:
            keep = -offset
            while len(queue) > keep:
                queue.popleft()
            self._forced = [e for e in self._forced if not e[1]]
        else:
            while queue and queue[0]["update_id"] < offset:
                queue.popleft()
            if self._forced:
                self._forced = [
                    e for e in self._forced if not (e[1] and e[0]["update_id"] < offset)
                ]
        if self._confirm_waiters and len(queue) + len(self._forced) != before:
            self._wake(self._confirm_waiters)

    def _take(self, limit: int) -> list[dict[str, Any]]:
        if not self._forced:
            if len(self._queue) <= limit:
                return list(self._queue)
            return list(itertools.islice(self._queue, limit))
        batch = list(itertools.islice(self._queue, limit))
        batch.extend(e[0] for e in self._forced)
        batch.sort(key=lambda u: u["update_id"])
        batch = batch[:limit]
        chosen = {id(u) for u in batch}
        for entry in self._forced:
            if id(entry[0]) in chosen:
                entry[1] = True
        return batch

    def _drop_pending(self) -> None:
        self._queue.clear()
        self._forced = []
        self._wake(self._confirm_waiters)

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        waiters.clear()

    def _enqueue(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: obj}
        self._next_update_id += 1
        self._updates_created += 1
        allowed = self._allowed_updates
        if (allowed is None and kind in DEFAULT_UPDATE_TYPES_EXCLUDED) or (
            allowed is not None and kind not in allowed
        ):
            self._updates_dropped += 1
            return update
        self._queue.append(update)
        if self._poll_waiters:
            self._wake(self._poll_waiters)
        return update

    @property
    def pending_update_count(self) -> int:
        """Updates not confirmed yet (delivered-but-unconfirmed ones included)."""
        return len(self._queue) + len(self._forced)

    def pending_updates(self) -> list[dict[str, Any]]:
        """Unconfirmed updates, in delivery order."""
        out = list(self._queue) + [e[0] for e in self._forced]
        out.sort(key=lambda u: u["update_id"])
        return out

    async def wait_for_updates_confirmed(self, timeout: float = 10.0) -> None:
        """Wait until the bot has confirmed (getUpdates offset / webhook 2xx) every update."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending_update_count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.pending_update_count} update(s) still unconfirmed")
            fut: asyncio.Future[None] = loop.create_future()
            self._confirm_waiters.append(fut)
            try:
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass

    def inject_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue ``update`` verbatim, even with an already used update_id (redelivery test).

        It is returned by the next getUpdates even if its id is below the offset, then dropped
        once confirmed. Without an update_id it gets the next one.
        """
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        uid = int(update["update_id"])
        if uid >= self._next_update_id:
            self._next_update_id = uid + 1
        self._forced.append([update, False])
        if self._poll_waiters:
            self._wake(self._poll_waiters)
        if self._webhook:
            self._start_webhook_worker()
        return update

    # -- webhook delivery

    def _start_webhook_worker(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._webhook_task = loop.create_task(self._webhook_loop())

    def _stop_webhook_worker(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None and not task.done():
            task.cancel()
        self._wake(self._poll_waiters)

    def _next_for_webhook(self) -> tuple[dict[str, Any], list[Any] | None] | None:
        forced = [e for e in self._forced if not e[1]]
        first = self._queue[0] if self._queue else None
        if forced:
            entry = min(forced, key=lambda e: e[0]["update_id"])
            if first is None or entry[0]["update_id"] < first["update_id"]:
                return entry[0], entry
        if first is not None:
            return first, None
        return None

    async def _webhook_loop(self) -> None:
        backoff = 0.1
        async with aiohttp.ClientSession() as session:
            while self._webhook and not self._closing:
                nxt = self._next_for_webhook()
                if nxt is None:
                    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self._poll_waiters.append(fut)
                    await fut
                    continue
                update, forced_entry = nxt
                ok = await self._post_webhook(session, update)
                if ok:
                    backoff = 0.1
                    if forced_entry is not None:
                        with contextlib.suppress(ValueError):
                            self._forced.remove(forced_entry)
                    elif self._queue and self._queue[0] is update:
                        self._queue.popleft()
                    if self._confirm_waiters:
                        self._wake(self._confirm_waiters)
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)

    async def _post_webhook(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> bool:
        url = self._webhook["url"]
        headers = {"Content-Type": "application/json"}
        if self._webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook["secret_token"]
        try:
            async with session.post(
                url, data=_dumps(update), headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as resp:
                if not 200 <= resp.status < 300:
                    self._webhook_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {resp.status} {resp.reason}",
                    )
                    return False
                params: dict[str, Any] = {}
                ctype = resp.content_type
                if ctype == "application/json":
                    body = await resp.read()
                    if body.strip():
                        with contextlib.suppress(ValueError):
                            data = json.loads(body)
                            if isinstance(data, dict):
                                params = data
                elif ctype == "multipart/form-data":
                    reader = aiohttp.MultipartReader.from_response(resp)
                    while True:
                        part = await reader.next()
                        if part is None:
                            break
                        if not isinstance(part, aiohttp.BodyPartReader):
                            continue
                        if part.filename is not None:
                            params[part.name or ""] = _Upload(
                                part.filename, part.headers.get("Content-Type"), await part.read()
                            )
                        else:
                            params[part.name or ""] = await part.text()
                method = params.pop("method", None)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._webhook_error = (int(time.time()), f"Connection failed: {exc}")
            return False
        if isinstance(method, str) and method:
            await self._invoke(method, params, any(isinstance(v, _Upload) for v in params.values()))
        return True

    # -- messages

    def _api_sendMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        if p.get("text") in (None, ""):
            raise _bad("message text is empty")
        text, entities, raw, mode = self._format(
            p, "text", "parse_mode", "entities", MAX_TEXT_LENGTH, "message is too long"
        )
        if not text:
            raise _bad("message text is empty")
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        lpo = self._link_preview(p)
        self._admit_send(chat, p)
        rec = self._new_bot_message(
            chat,
            "sendMessage",
            p,
            text=text,
            raw_text=raw,
            parse_mode=mode,
            entities=entities,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            link_preview_options=lpo,
        )
        return self._message_json(rec)

    def _caption(self, p: dict[str, Any]) -> tuple[str | None, list | None, str | None, str | None]:
        if p.get("caption") in (None, ""):
            return None, None, None, None
        caption, entities, raw, mode = self._format(
            p,
            "caption",
            "parse_mode",
            "caption_entities",
            MAX_CAPTION_LENGTH,
            "message caption is too long",
        )
        return caption or None, entities, raw, mode

    def _send_media(self, p: dict[str, Any], method: str, field: str, kind: str) -> dict:
        chat = self._chat(p.get("chat_id"))
        caption, cap_entities, raw_caption, mode = self._caption(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        file = self._input_file(p, field, kind)
        self._admit_send(chat, p)
        rec = self._new_bot_message(
            chat,
            method,
            p,
            caption=caption,
            raw_caption=raw_caption,
            caption_entities=cap_entities,
            parse_mode=mode,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            **{kind: file["public"]},
        )
        return self._message_json(rec)

    def _api_sendDocument(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(p, "sendDocument", "document", "document")

    def _api_sendPhoto(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(p, "sendPhoto", "photo", "photo")

    def _api_sendMediaGroup(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        chat = self._chat(p.get("chat_id"))
        media = _json_param(p.get("media"), "can't parse InputMedia JSON object")
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            raise _bad("can't parse InputMedia JSON object")
        if not 2 <= len(media) <= 10:
            raise _bad("too few media specified" if len(media) < 2 else "too many media specified")
        kinds = {m.get("type") for m in media}
        if not kinds <= {"photo", "document"}:
            raise _bad("media types other than photo and document are not supported by the fake")
        if len(kinds) > 1:
            raise _bad("document can't be mixed with other media types")
        prepared = []
        for item in media:
            sub = dict(item)
            sub.setdefault("parse_mode", p.get("parse_mode"))
            caption, entities, raw_caption, mode = self._caption(sub)
            prepared.append((item, caption, entities, raw_caption, mode))
        reply_to = self._reply_to(chat, p)
        files = []
        for item, *_ in prepared:
            sub = dict(p)
            sub["media"] = item.get("media")
            files.append(self._input_file(sub, "media", item["type"]))
        self._admit_send(chat, p, count=len(media))
        group_id = str(next(self._media_group_counter))
        out = []
        for (item, caption, entities, raw_caption, mode), file in zip(prepared, files, strict=True):
            rec = self._new_bot_message(
                chat,
                "sendMediaGroup",
                p,
                caption=caption,
                raw_caption=raw_caption,
                caption_entities=entities,
                parse_mode=mode,
                media_group_id=group_id,
                reply_to_message_id=reply_to,
                **{item["type"]: file["public"]},
            )
            out.append(self._message_json(rec))
        return out

    def _source_message(self, p: dict[str, Any], not_found: str) -> dict[str, Any]:
        src_chat = self._chat(p.get("from_chat_id"), "from_chat_id")
        rec = src_chat.messages.get(self._message_id(p.get("message_id")))
        if rec is None or rec["deleted"]:
            raise _bad(not_found)
        return rec

    def _api_copyMessage(self, p: dict[str, Any]) -> dict[str, int]:
        chat = self._chat(p.get("chat_id"))
        src = self._source_message(p, "message to copy not found")
        fields: dict[str, Any] = {
            "text": src["text"],
            "raw_text": src["raw_text"],
            "entities": src["entities"],
            "document": src["document"],
            "photo": src["photo"],
            "link_preview_options": src["link_preview_options"],
            "caption": src["caption"],
            "raw_caption": src["raw_caption"],
            "caption_entities": src["caption_entities"],
            "parse_mode": src["parse_mode"],
        }
        if src["text"] is None and "caption" in p and p.get("caption") is not None:
            caption, entities, raw_caption, mode = self._caption(p)
            fields.update(
                caption=caption, caption_entities=entities, raw_caption=raw_caption, parse_mode=mode
            )
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        self._admit_send(chat, p)
        rec = self._new_bot_message(
            chat,
            "copyMessage",
            p,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            copied_from={"chat_id": src["chat_id"], "message_id": src["message_id"]},
            **fields,
        )
        return {"message_id": rec["message_id"]}

    def _api_forwardMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(p.get("chat_id"))
        src = self._source_message(p, "message to forward not found")
        self._admit_send(chat, p)
        sender = self._bot_user if src["from_bot"] else self._chats[src["chat_id"]].user
        origin = src["forward_origin"] or {
            "type": "user",
            "date": src["date"],
            "sender_user": sender,
        }
        rec = self._new_bot_message(
            chat,
            "forwardMessage",
            p,
            text=src["text"],
            raw_text=src["raw_text"],
            entities=src["entities"],
            document=src["document"],
            photo=src["photo"],
            caption=src["caption"],
            raw_caption=src["raw_caption"],
            caption_entities=src["caption_entities"],
            forward_origin=origin,
            copied_from={"chat_id": src["chat_id"], "message_id": src["message_id"]},
        )
        return self._message_json(rec)

    def _edit_target(self, p: dict[str, Any]) -> tuple[_Chat, dict[str, Any]]:
        if p.get("inline_message_id") not in (None, ""):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat(p.get("chat_id"))
        rec = chat.messages.get(self._message_id(p.get("message_id")))
        if rec is None or rec["deleted"]:
            raise _bad("message to edit not found")
        if not rec["from_bot"]:
            raise _bad("message can't be edited")
        return chat, rec

    @staticmethod
    def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
        if markup is not None and "inline_keyboard" in markup:
            return {"inline_keyboard": markup["inline_keyboard"]}
        return None

    def _apply_edit(self, chat: _Chat, rec: dict[str, Any], method: str, **changes: Any) -> dict:
        previous = {k: rec[k] for k in _EDIT_FIELDS}
        rec["edits"].append(previous)
        rec.update(changes)
        rec["method"] = method
        rec["edit_date"] = int(time.time())
        if chat.waiters:
            self._wake(chat.waiters)
        return self._message_json(rec)

    def _api_editMessageText(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, rec = self._edit_target(p)
        if p.get("text") in (None, ""):
            raise _bad("message text is empty")
        if rec["text"] is None:
            raise _bad("there is no text in the message to edit")
        text, entities, raw, mode = self._format(
            p, "text", "parse_mode", "entities", MAX_TEXT_LENGTH, "message is too long"
        )
        if not text:
            raise _bad("message text is empty")
        markup = self._markup(p, inline_only=True)
        lpo = self._link_preview(p) or rec["link_preview_options"]
        if (
            text == rec["text"]
            and (entities or None) == (rec["entities"] or None)
            and self._inline(markup) == self._inline(rec["reply_markup"])
        ):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit(
            chat,
            rec,
            "editMessageText",
            text=text,
            raw_text=raw,
            parse_mode=mode,
            entities=entities,
            reply_markup=markup,
            link_preview_options=lpo,
        )

    def _api_editMessageCaption(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, rec = self._edit_target(p)
        if rec["document"] is None and rec["photo"] is None:
            raise _bad("there is no caption in the message to edit")
        caption, entities, raw_caption, mode = self._caption(p)
        markup = self._markup(p, inline_only=True)
        if (
            caption == rec["caption"]
            and (entities or None) == (rec["caption_entities"] or None)
            and self._inline(markup) == self._inline(rec["reply_markup"])
        ):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit(
            chat,
            rec,
            "editMessageCaption",
            caption=caption,
            raw_caption=raw_caption,
            caption_entities=entities,
            parse_mode=mode,
            reply_markup=markup,
        )

    def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> dict[str, Any]:
        chat, rec = self._edit_target(p)
        markup = self._markup(p, inline_only=True)
        if self._inline(markup) == self._inline(rec["reply_markup"]):
            raise _bad(_NOT_MODIFIED)
        return self._apply_edit(chat, rec, "editMessageReplyMarkup", reply_markup=markup)

    def _api_deleteMessage(self, p: dict[str, Any]) -> bool:
        chat = self._chat(p.get("chat_id"))
        rec = chat.messages.get(self._message_id(p.get("message_id")))
        if rec is None or rec["deleted"]:
            raise _bad("message to delete not found")
        rec["deleted"] = True
        if chat.waiters:
            self._wake(chat.waiters)
        return True

    def _api_deleteMessages(self, p: dict[str, Any]) -> bool:
        chat = self._chat(p.get("chat_id"))
        ids = _json_param(p.get("message_ids"), "can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("too many message identifiers specified" if ids else "message_ids is empty")
        found = False
        for mid in ids:
            rec = chat.messages.get(_to_int(mid) or 0)
            if rec is not None and not rec["deleted"]:
                rec["deleted"] = True
                found = True
        if not found:
            raise _bad("message to delete not found")
        if chat.waiters:
            self._wake(chat.waiters)
        return True

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

    def _api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = p.get("file_id")
        rec = self._files.get(file_id) if isinstance(file_id, str) else None
        if rec is None:
            raise _bad("invalid file_id")
        if rec["file_size"] > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": rec["file_id"],
            "file_unique_id": rec["file_unique_id"],
            "file_size": rec["file_size"],
            "file_path": rec["file_path"],
        }

    # ============================================================ user side

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

    # -- reading

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

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """The call log (bounded by max_calls): {method, params, time, ok, result | error_*}."""
        if method is None:
            return list(self._calls)
        lowered = method.lower()
        return [c for c in self._calls if c["method"].lower() == lowered]

    def stats(self) -> dict[str, Any]:
        elapsed = None
        if self._first_send is not None and self._last_send is not None:
            elapsed = self._last_send - self._first_send
        return {
            "methods": dict(self._method_counts),
            "sent_per_chat": dict(self._sent_per_chat),
            "chats_with_messages": len(self._sent_per_chat),
            "total_sent": self._total_sent,
            "too_many_requests": self._too_many,
            "errors": dict(self._error_counts),
            "max_rate_per_second": self._max_rate,
            "send_span_seconds": elapsed,
            "updates_created": self._updates_created,
            "updates_dropped": self._updates_dropped,
            "pending_updates": self.pending_update_count,
            "users": len(self._chats),
        }

    # -- configuration & faults

    def configure(
        self,
        global_rate: Any = _MISSING,
        per_chat_rate: Any = _MISSING,
        retry_after: Any = _MISSING,
    ) -> None:
        """Change rate limits at runtime (None disables a limit)."""
        if global_rate is not _MISSING:
            self.global_rate = None if global_rate is None else float(global_rate)
            self._global_window.clear()
        if per_chat_rate is not _MISSING:
            self.per_chat_rate = None if per_chat_rate is None else float(per_chat_rate)
            self._chat_windows.clear()
        if retry_after is not _MISSING:
            self.retry_after = int(retry_after)

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` ("*" = any method) fail as given."""
        queue = self._failures.setdefault(method.lower(), deque())
        for _ in range(count):
            queue.append((int(error_code), description, retry_after))

    def clear_failures(self) -> None:
        self._failures.clear()

    def set_delay(self, method: str, seconds: float | None, mode: str = "before") -> None:
        """Delay the responses of ``method`` ("*" = any method); 0/None removes the delay.

        mode="before": wait, then process — if the client gave up meanwhile the call is
        dropped unprocessed (a request lost on the way). mode="after": process, then wait
        (the message is delivered but the response is late: the bot may time out and retry).
        """
        if mode not in ("before", "after"):
            raise ValueError("mode must be 'before' or 'after'")
        if not seconds:
            self._delays.pop(method.lower(), None)
        else:
            self._delays[method.lower()] = (float(seconds), mode)

    # ========================================================== /_test HTTP

    async def _handle_test(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        data: dict[str, Any] = dict(request.query)
        if request.body_exists:
            try:
                body = await request.json()
            except ValueError:
                return self._test_response({"ok": False, "error": "body must be JSON"}, 400)
            if isinstance(body, dict):
                data.update(body)
        handler = getattr(self, "_test_" + action.strip("/").replace("/", "_"), None)
        if handler is None:
            return self._test_response({"ok": False, "error": f"unknown action {action}"}, 404)
        try:
            result = handler(data)
            if asyncio.iscoroutine(result):
                result = await result
        except TimeoutError as exc:
            return self._test_response({"ok": False, "error": str(exc)}, 408)
        except (KeyError, ValueError, TypeError) as exc:
            return self._test_response({"ok": False, "error": f"{type(exc).__name__}: {exc}"}, 400)
        if isinstance(result, web.StreamResponse):
            return result
        return self._test_response({"ok": True, "result": result})

    @staticmethod
    def _test_response(payload: dict[str, Any], status: int = 200) -> web.Response:
        return web.Response(body=_dumps(payload), status=status, content_type="application/json")

    def _test_users(self, d: dict[str, Any]) -> Any:
        if "user_id" not in d:
            return self.user_ids
        return self.add_user(
            int(d["user_id"]),
            first_name=d.get("first_name", "User"),
            last_name=d.get("last_name"),
            username=d.get("username"),
            language_code=d.get("language_code", "en"),
        )

    def _test_users_bulk(self, d: dict[str, Any]) -> Any:
        return self.add_users(int(d["count"]), int(d.get("start_id", 1_000_000)))

    def _test_blocked(self, d: dict[str, Any]) -> Any:
        self.set_blocked(
            int(d["user_id"]), _to_bool(d.get("blocked", True)), _to_bool(d.get("notify", True))
        )
        return True

    def _test_deactivated(self, d: dict[str, Any]) -> Any:
        self.set_deactivated(int(d["user_id"]), _to_bool(d.get("deactivated", True)))
        return True

    def _test_send_message(self, d: dict[str, Any]) -> Any:
        entities = d.get("entities")
        if isinstance(entities, str):
            entities = json.loads(entities)
        return self.send_message(
            int(d["user_id"]),
            d["text"],
            entities,
            _to_int(d.get("reply_to_message_id")) if d.get("reply_to_message_id") else None,
        )

    def _test_send_photo(self, d: dict[str, Any]) -> Any:
        content = base64.b64decode(d["content_base64"]) if d.get("content_base64") else None
        return self.send_photo(int(d["user_id"]), d.get("caption"), content)

    def _test_send_document(self, d: dict[str, Any]) -> Any:
        return self.send_document(
            int(d["user_id"]),
            d["file_name"],
            base64.b64decode(d.get("content_base64", "")),
            d.get("mime_type"),
            d.get("caption"),
        )

    def _test_press_button(self, d: dict[str, Any]) -> Any:
        return self.press_button(
            int(d["user_id"]),
            int(d["message_id"]),
            d["callback_data"],
            force=_to_bool(d.get("force", False)),
        )

    def _test_inject_update(self, d: dict[str, Any]) -> Any:
        return self.inject_raw_update(d["update"] if "update" in d else d)

    def _test_messages(self, d: dict[str, Any]) -> Any:
        return self.messages(int(d["chat_id"]))

    def _test_last_message(self, d: dict[str, Any]) -> Any:
        return self.last_message(int(d["chat_id"]))

    async def _test_wait_message(self, d: dict[str, Any]) -> Any:
        contains = d.get("text_contains")
        data = d.get("callback_data")

        def predicate(m: dict[str, Any]) -> bool:
            if contains is not None and contains not in (m["text"] or m["caption"] or ""):
                return False
            if data is not None:
                rows = (m["reply_markup"] or {}).get("inline_keyboard", [])
                return any(b.get("callback_data") == data for row in rows for b in row)
            return True

        return await self.wait_for_message(
            int(d["chat_id"]),
            predicate,
            timeout=float(d.get("timeout", 10.0)),
            after=int(d.get("after", 0)),
        )

    async def _test_wait_confirmed(self, d: dict[str, Any]) -> Any:
        await self.wait_for_updates_confirmed(float(d.get("timeout", 10.0)))
        return True

    def _test_callback_answers(self, d: dict[str, Any]) -> Any:
        return self.callback_answers(int(d["user_id"]))

    def _test_calls(self, d: dict[str, Any]) -> Any:
        calls = self.calls(d.get("method"))
        limit = _to_int(d.get("limit"))
        return calls[-limit:] if limit else calls

    def _test_reset_calls(self, d: dict[str, Any]) -> Any:
        self.reset_calls()
        return True

    def _test_reset_stats(self, d: dict[str, Any]) -> Any:
        self.reset_stats()
        return True

    def _test_reset(self, d: dict[str, Any]) -> Any:
        self.reset(keep_users=_to_bool(d.get("keep_users", True)))
        return True

    def _test_stats(self, d: dict[str, Any]) -> Any:
        return self.stats()

    def _test_config(self, d: dict[str, Any]) -> Any:
        kwargs = {k: d[k] for k in ("global_rate", "per_chat_rate", "retry_after") if k in d}
        self.configure(**kwargs)
        return {
            "global_rate": self.global_rate,
            "per_chat_rate": self.per_chat_rate,
            "retry_after": self.retry_after,
        }

    def _test_fail_next(self, d: dict[str, Any]) -> Any:
        self.fail_next(
            d["method"],
            int(d.get("error_code", 500)),
            d.get("description", "Internal Server Error"),
            int(d.get("count", 1)),
            _to_int(d.get("retry_after")) if d.get("retry_after") is not None else None,
        )
        return True

    def _test_delay(self, d: dict[str, Any]) -> Any:
        self.set_delay(d["method"], float(d.get("seconds") or 0), d.get("mode", "before"))
        return True

    def _test_commands(self, d: dict[str, Any]) -> Any:
        return [
            {"scope": scope, "language_code": lang, "commands": cmds}
            for (scope, lang), cmds in self._commands.items()
        ]

    def _test_pending_updates(self, d: dict[str, Any]) -> Any:
        return self.pending_updates()

    def _test_webhook_info(self, d: dict[str, Any]) -> Any:
        return self.webhook_info

    def _test_file(self, d: dict[str, Any]) -> Any:
        rec = self._files[d["file_id"]]
        return web.Response(
            body=rec["content"], content_type=rec.get("mime_type") or "application/octet-stream"
        )


_TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
