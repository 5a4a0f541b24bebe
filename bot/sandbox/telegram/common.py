"""Constants, errors and small helpers shared by the parts of the fake Bot API (server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
from typing import Any

# The logger keeps the name it had when the whole fake was one module.
log = logging.getLogger(f"{__package__}.server")

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


_TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
