"""Reading and checking the parameters of Bot API calls (chat, text formatting, markup, ...).

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import json
from typing import Any

from .common import _BUTTON_ACTIONS, MAX_CALLBACK_DATA, _bad, _Chat, _json_param, _to_bool, _to_int
from .formatting import FormattingError, parse_html, trim_formatted


class ParsingMixin:
    """Parameter checks shared by the Bot API methods, failing with 400 like Telegram."""

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
