"""Bot API methods that change sent messages: editMessage*, deleteMessage(s).

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import time
from typing import Any

from .common import _EDIT_FIELDS, _NOT_MODIFIED, MAX_TEXT_LENGTH, _bad, _Chat, _json_param, _to_int


class EditingMixin:
    """Edits (each keeps the previous version in the record's ``edits``) and deletes."""

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
