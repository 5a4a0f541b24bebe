"""Bot API methods that send messages: sendMessage, sendDocument/Photo/MediaGroup, copy, forward.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

from typing import Any

from .common import MAX_CAPTION_LENGTH, MAX_TEXT_LENGTH, _bad, _json_param


class SendingMixin:
    """The message-sending Bot API methods."""

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
