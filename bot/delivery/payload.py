"""Payloads: what a send job stores, rendered once per locale and per delivery
(docs/delivery.md, "Payload")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message

METHODS: dict[str, type[TelegramMethod[Any]]] = {
    "send_message": methods.SendMessage,
    "send_photo": methods.SendPhoto,
    "send_document": methods.SendDocument,
    "copy_message": methods.CopyMessage,
    "forward_message": methods.ForwardMessage,
    "send_video": methods.SendVideo,
    "send_audio": methods.SendAudio,
    "send_animation": methods.SendAnimation,
    "send_voice": methods.SendVoice,
    "send_sticker": methods.SendSticker,
    "send_location": methods.SendLocation,
}
_NO_MARKUP = frozenset({"forward_message"})

# aiogram parses every answer as pydantic's Response[T]; pydantic keeps such generic
# classes only while something references them, so after each garbage collection the next
# answer rebuilt Response[Message] (~10 ms, close to half the engine's CPU per message).
# Holding them makes it a cache hit.
_RESPONSE_TYPES = tuple(
    Response[t]  # type: ignore[valid-type]
    for t in {cls.__returning__ for cls in METHODS.values()} | {bool, Message | bool}
)
_DELIVERY_ID = "{delivery_id}"
_MAX_CALLBACK_DATA = 64


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int  # users.id
    chat_id: int  # where to send: the user's Telegram id for a private chat
    locale: str = "en"
    # This recipient's own overrides, merged over the locale's params (None: none).
    params: dict[str, Any] | None = field(default=None, hash=False)


def _pick(variants: dict[str, Any], locale: str) -> Any:
    if locale in variants:
        return variants[locale]
    if "en" in variants:
        return variants["en"]
    return next(iter(variants.values())) if variants else None


class Template:
    """A payload rendered for one locale; `build` adds the chat and the delivery id."""

    __slots__ = ("cls", "markup", "params", "rows")

    def __init__(self, payload: dict[str, Any], locale: str) -> None:
        if not isinstance(payload, dict):
            raise ValueError("payload must be a dict")
        name = payload.get("method", "send_message")
        cls = METHODS.get(name)
        if cls is None:
            raise ValueError(f"unsupported payload method {name!r}; use one of {sorted(METHODS)}")
        self.cls: Any = cls
        params = dict(payload.get("params") or {})
        locales = payload.get("locales") or {}
        if not isinstance(locales, dict):
            raise ValueError("payload locales must be a dict of locale -> param overrides")
        overrides = _pick(locales, locale) if locales else None
        if overrides:
            params.update(overrides)
        for forbidden in ("chat_id", "reply_markup"):
            if forbidden in params:
                raise ValueError(f"payload params must not set {forbidden}")
        if "parse_mode" not in params and (
            params.get("entities") or params.get("caption_entities")
        ):
            params["parse_mode"] = None
        self.params = params
        self.rows: list[list[tuple[str, dict[str, Any]]]] | None = None
        self.markup: InlineKeyboardMarkup | None = None
        buttons = payload.get("buttons")
        if buttons:
            if name in _NO_MARKUP:
                raise ValueError(f"{name} cannot carry buttons")
            rows: list[list[tuple[str, dict[str, Any]]]] = []
            for row in buttons:
                out = []
                for button in row:
                    button = dict(button)
                    text = button.pop("text", None)
                    if isinstance(text, dict):
                        text = _pick(text, locale)
                    if not isinstance(text, str) or not text:
                        raise ValueError("every button needs a text (or texts by locale)")
                    if not button:
                        raise ValueError("every button needs callback_data or url")
                    out.append((text, {k: str(v) for k, v in button.items()}))
                rows.append(out)
            self.rows = rows
            if not any(_DELIVERY_ID in v for r in rows for _, b in r for v in b.values()):
                self.markup = self._markup(0)

    def _markup(self, delivery_id: int) -> InlineKeyboardMarkup:
        assert self.rows is not None
        did = str(delivery_id)
        keyboard = []
        for row in self.rows:
            keyboard.append(
                [
                    InlineKeyboardButton(
                        text=text, **{k: v.replace(_DELIVERY_ID, did) for k, v in fields.items()}
                    )
                    for text, fields in row
                ]
            )
        return InlineKeyboardMarkup(inline_keyboard=keyboard)

    def build(
        self, chat_id: int, delivery_id: int, overrides: dict[str, Any] | None = None
    ) -> TelegramMethod[Any]:
        params = self.params
        if overrides:
            params = _merge(params, overrides)
        markup = self.markup
        if markup is None and self.rows is not None:
            markup = self._markup(delivery_id)
        if markup is not None:
            return self.cls(chat_id=chat_id, reply_markup=markup, **params)
        return self.cls(chat_id=chat_id, **params)

    def check(self) -> None:
        """Raise ValueError if this cannot become a valid request."""
        try:
            method = self.build(0, 10**15)
        except Exception as exc:  # pydantic ValidationError, TypeError
            raise ValueError(f"payload does not make a valid {self.cls.__name__}: {exc}") from exc
        markup = getattr(method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for button in row:
                    data = button.callback_data
                    if data is not None and len(data.encode()) > _MAX_CALLBACK_DATA:
                        raise ValueError(f"callback_data longer than 64 bytes: {data!r}")


def check_overrides(params: dict[str, Any] | None) -> None:
    if params is None:
        return
    if not isinstance(params, dict):
        raise ValueError("a recipient's params must be a dict of param overrides")
    for forbidden in ("chat_id", "reply_markup"):
        if forbidden in params:
            raise ValueError(f"a recipient's params must not set {forbidden}")


def _merge(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A delivery's own overrides over the locale's params (a shallow update; entities
    without a parse mode still mean no parse mode)."""
    merged = {**params, **overrides}
    if "parse_mode" not in merged and (merged.get("entities") or merged.get("caption_entities")):
        merged["parse_mode"] = None
    return merged


def build_method(
    payload: dict[str, Any],
    locale: str,
    chat_id: int,
    delivery_id: int = 0,
    params: dict[str, Any] | None = None,
) -> TelegramMethod[Any]:
    """The request a delivery of this payload makes (also useful for a preview);
    ``params``: the recipient's own overrides, if any."""
    check_overrides(params)
    return Template(payload, locale).build(chat_id, delivery_id, params)
