"""The chat page of `prevnet sandbox`: served beside the local Bot API, on the same port.

``/`` and ``/static/...``: the page (bot/sandbox/static, no CDN). ``/sandbox/api/...``: what
the page reads and does, for the people it shows:

- ``GET info``: the bot, the network, the invite codes, the people and the page's default
  language (``prevnet sandbox --lang``);
- ``GET strings?lang=xx``: the page's texts in one language (bot/sandbox/strings.py);
- ``POST people`` {name, language}: a new person (a new Telegram user, no chat yet);
- ``GET chats?ids=1,2&since=V``: each chat as the person's Telegram client shows it (the
  messages, the reply keyboard, the command menu, the menu button, the answers to button
  presses); waits up to 25 s for something to change after version V (long polling);
- ``POST send`` {user_id, text}, ``POST press`` {user_id, message_id, data},
  ``POST upload`` (multipart: user_id, file, caption): what the person does;
- ``GET file/<file_id>``: a photo or document of a chat;
- ``POST webapp`` {user_id, url}: the Web App's address with a signed initData.

Errors answer 400 with ``{"error": code, "message": English text}``; the page shows its
``err_<code>`` text in the page's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.seed import Seeded
from bot.sandbox.strings import page_texts
from bot.sandbox.telegram import FakeBotAPI
from bot.sandbox.webapp import launch_url

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

LANGUAGES = ("ar", "en", "fr")
MAX_PEOPLE = 200
MESSAGES_SHOWN = 300  # the newest messages of a chat the page gets
ANSWERS_SHOWN = 5
LONG_POLL = 25.0
FIRST_NEW_ID = 6_000_001
# Calls that change nothing a chat shows: they do not wake the page.
QUIET_METHODS = frozenset(
    {"getupdates", "getme", "getfile", "getwebhookinfo", "deletewebhook", "getchat",
     "getmycommands", "getchatmenubutton", "close", "logout", "sendchataction"}
)
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                ".svg": "image/svg+xml"}


class SandboxBotAPI(FakeBotAPI):
    """The local Bot API of the sandbox, with the chat page's routes and a change counter."""

    def __init__(self, *args: Any, seeded: Seeded | None = None, language: str = "ar",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seeded = seeded or Seeded(network="")
        self.language = language if language in LANGUAGES else "ar"
        self._texts: dict[str, dict[str, Any]] = {}
        self._i18n: I18n | None = None
        self.version = 0
        self.bot_polling = asyncio.Event()  # set at the bot's first getUpdates
        self._page_waiters: list[asyncio.Future[None]] = []
        self._new_ids = itertools.count(FIRST_NEW_ID)
        self._roles = {p.tg_id: p.role for p in self.seeded.people}
        for person in self.seeded.people:
            self.add_user(person.tg_id, person.first_name, person.last_name,
                          language_code=person.language)

    # -- the change counter

    def changed(self) -> None:
        self.version += 1
        waiters, self._page_waiters = self._page_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _invoke(self, method: str, params: dict[str, Any], uploads: bool = False,
                      request: web.Request | None = None) -> Any:
        key = method.lower()
        if key == "getupdates":
            self.bot_polling.set()  # now: a long poll returns only when there is news
        outcome = await super()._invoke(method, params, uploads, request)
        if key not in QUIET_METHODS:
            self.changed()
        return outcome

    async def wait_changed(self, since: int, timeout: float = LONG_POLL) -> None:
        if self.version > since or self._closing:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._page_waiters.append(fut)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await fut

    async def stop(self) -> None:
        self._closing = True
        self.changed()  # the page's long polls return
        await super().stop()

    # -- routes

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        api = "/sandbox/api/"
        app.router.add_get(api + "info", self._info)
        app.router.add_get(api + "strings", self._strings)
        app.router.add_post(api + "people", self._add_person)
        app.router.add_get(api + "chats", self._chats_view)
        app.router.add_post(api + "send", self._send)
        app.router.add_post(api + "press", self._press)
        app.router.add_post(api + "upload", self._upload)
        app.router.add_get(api + "file/{file_id}", self._file)
        app.router.add_post(api + "webapp", self._webapp)
        return app

    @staticmethod
    def _asset(name: str) -> bytes | None:
        if "/" in name or "\\" in name or name.startswith("."):
            return None
        ref = resources.files("bot.sandbox").joinpath("static", name)
        return ref.read_bytes() if ref.is_file() else None

    async def _page(self, request: web.Request) -> web.StreamResponse:
        body = self._asset("index.html")
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = self._asset(name)
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if body is None or suffix not in STATIC_TYPES:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type=STATIC_TYPES[suffix], charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    # -- what the page reads

    def _person(self, user_id: int) -> dict[str, Any]:
        user = self.user(user_id)
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
        # The seeded people started the bot long ago: their chats have an input, not START.
        return {"id": user["id"], "name": name, "language": user.get("language_code") or "en",
                "role": self._roles.get(user["id"]), "started": user["id"] in self._roles}

    async def _info(self, request: web.Request) -> web.StreamResponse:
        invites = [{"code": i.code, "role": str(i.role), "uses": i.uses}
                   for i in self.seeded.invites]
        return web.json_response({
            "bot": {"username": self.bot_username, "name": self._bot_user["first_name"]},
            "network": self.seeded.network,
            "invites": invites,
            "people": [self._person(uid) for uid in self.user_ids],
            "limits": self.global_rate is not None or self.per_chat_rate is not None,
            "language": self.language,
            "version": self.version,
        })

    async def _strings(self, request: web.Request) -> web.StreamResponse:
        lang = request.query.get("lang", "")
        locale = lang if lang in LANGUAGES else self.language
        if locale not in self._texts:
            if self._i18n is None:
                from bot.i18n import create_i18n

                self._i18n = create_i18n("en")
            self._texts[locale] = page_texts(self._i18n, locale)
        return web.json_response(self._texts[locale], headers={"Cache-Control": "no-cache"})

    async def _add_person(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        name = " ".join(str(data.get("name") or "").split())[:64]
        language = str(data.get("language") or "")
        if not name:
            raise _bad("name_needed", "a name is needed")
        if language not in LANGUAGES:
            raise _bad("bad_language", f"language must be one of {', '.join(LANGUAGES)}")
        if len(self.user_ids) >= MAX_PEOPLE:
            raise _bad("too_many_people", "that is enough people for one sandbox")
        first, _, last = name.partition(" ")
        uid = next(self._new_ids)
        self.add_user(uid, first, last or None, language_code=language)
        self.changed()
        return web.json_response(self._person(uid))

    def _commands_for(self, user_id: int, language: str) -> list[dict[str, Any]]:
        """The command menu a private chat shows (Telegram's order of scopes)."""
        commands = self.commands
        for scope in (f"chat:{user_id}", "all_private_chats", "default"):
            for lang in (language, ""):
                found = commands.get((scope, lang))
                if found:
                    return found
        return []

    def _menu_button_for(self, user_id: int) -> dict[str, Any] | None:
        buttons = self.menu_buttons
        button = buttons.get(user_id) or buttons.get(None)
        if button and button.get("type") == "web_app":
            web_app = button.get("web_app") or {}
            return {"text": button.get("text") or "App", "url": web_app.get("url") or ""}
        return None

    @staticmethod
    def _file_json(value: Any) -> dict[str, Any] | None:
        if isinstance(value, list) and value:  # a photo: its sizes, the largest last
            return {"file_id": value[-1]["file_id"], "kind": "photo"}
        if isinstance(value, dict):
            return {"file_id": value["file_id"], "kind": "document",
                    "file_name": value.get("file_name") or "file",
                    "mime_type": value.get("mime_type"), "file_size": value.get("file_size")}
        return None

    def _chat_view(self, user_id: int) -> dict[str, Any]:
        chat = self._chats[user_id]
        person = self._person(user_id)
        messages: list[dict[str, Any]] = []
        keyboard: dict[str, Any] | None = None
        for rec in sorted(chat.messages.values(), key=lambda r: r["message_id"]):
            markup = rec["reply_markup"] or {}
            if rec["from_bot"] and not rec["deleted"]:
                if "keyboard" in markup:
                    keyboard = {"rows": [[b if isinstance(b, str) else b.get("text", "")
                                          for b in row] for row in markup["keyboard"]],
                                "one_time": bool(markup.get("one_time_keyboard")),
                                "placeholder": markup.get("input_field_placeholder")}
                elif "remove_keyboard" in markup:
                    keyboard = None
            if rec["deleted"]:
                continue
            messages.append({
                "id": rec["message_id"],
                "from_bot": rec["from_bot"],
                "date": rec["date"],
                "text": rec["text"],
                "entities": rec["entities"] or [],
                "caption": rec["caption"],
                "caption_entities": rec["caption_entities"] or [],
                "file": self._file_json(rec["photo"] or rec["document"]),
                "inline_keyboard": markup.get("inline_keyboard"),
                "edited": bool(rec["edit_date"]),
                "reply_to": rec["reply_to_message_id"],
                "media_group": rec["media_group_id"],
            })
        answers = self.callback_answers(user_id)
        description = self._get_text_setting({"language_code": person["language"]},
                                              "description")["description"]
        return {
            "description": description,
            "person": person,
            "messages": messages[-MESSAGES_SHOWN:],
            "keyboard": keyboard,
            "commands": self._commands_for(user_id, person["language"]),
            "menu_button": self._menu_button_for(user_id),
            "answers": {
                "count": len(answers),
                "last": [{"n": i, "text": a["text"], "show_alert": a["show_alert"],
                          "url": a["url"]}
                         for i, a in enumerate(answers)][-ANSWERS_SHOWN:],
            },
        }

    async def _chats_view(self, request: web.Request) -> web.StreamResponse:
        try:
            ids = [int(x) for x in request.query.get("ids", "").split(",") if x.strip()][:3]
            since = int(request.query.get("since", "-1"))
        except ValueError:
            raise _bad("bad_request", "ids and since are numbers") from None
        await self.wait_changed(since)
        chats = {str(uid): self._chat_view(uid) for uid in ids if uid in self._chats}
        stats = {"sent": self._total_sent, "too_many": self._too_many}
        return web.json_response({"version": self.version, "chats": chats,
                                  "people": len(self.user_ids), "stats": stats})

    # -- what the page does

    def _known(self, value: Any) -> int:
        try:
            uid = int(value)
        except (TypeError, ValueError):
            raise _bad("bad_request", "user_id is a number") from None
        if uid not in self._chats:
            raise _bad("no_person", f"no person {uid}")
        return uid

    async def _send(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        uid = self._known(data.get("user_id"))
        text = str(data.get("text") or "").strip()
        if not text:
            raise _bad("nothing_to_send", "nothing to send")
        self.send_message(uid, text[:4096])
        self.changed()
        return web.json_response({"ok": True})

    async def _press(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        uid = self._known(data.get("user_id"))
        try:
            self.press_button(uid, int(data.get("message_id") or 0), str(data.get("data") or ""))
        except ValueError as exc:  # the button is gone (the message was edited meanwhile)
            raise _bad("button_gone", str(exc)) from None
        self.changed()
        return web.json_response({"ok": True})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        uid = self._known(form.get("user_id"))
        upload = form.get("file")
        caption = str(form.get("caption") or "").strip() or None
        if not isinstance(upload, web.FileField):
            raise _bad("no_file", "no file")
        content = upload.file.read()
        if not content:
            raise _bad("empty_file", "the file is empty")
        kind = upload.content_type or "application/octet-stream"
        if kind in ("image/jpeg", "image/png", "image/gif", "image/webp"):
            self.send_photo(uid, caption=caption, content=content)
        else:
            self.send_document(uid, upload.filename or "file", content, kind, caption=caption)
        self.changed()
        return web.json_response({"ok": True})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        try:
            info = self.file_info(file_id)
            content = self.file_content(file_id)
        except KeyError:
            raise web.HTTPNotFound() from None
        headers = {"Cache-Control": "no-store"}
        if info.get("kind") == "document":
            name = str(info.get("file_name") or "file").replace('"', "")
            headers["Content-Disposition"] = f'attachment; filename="{_ascii(name)}"; ' \
                f"filename*=UTF-8''{_quote(name)}"
        return web.Response(body=content, headers=headers,
                            content_type=info.get("mime_type") or "image/jpeg")

    async def _webapp(self, request: web.Request) -> web.StreamResponse:
        data = await _json(request)
        uid = self._known(data.get("user_id"))
        url = str(data.get("url") or "")
        if not url.startswith(("http://", "https://")):
            raise _bad("not_web_app", "not a Web App address")
        return web.json_response({"url": launch_url(url, self.token, self.user(uid))})


def _bad(code: str, text: str) -> web.HTTPBadRequest:
    """A 400 the page shows as its ``err_<code>`` text (bot/sandbox/strings.py)."""
    return web.HTTPBadRequest(text=json.dumps({"error": code, "message": text}),
                              content_type="application/json")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise _bad("bad_request", "the body must be JSON") from None
    if not isinstance(data, dict):
        raise _bad("bad_request", "the body must be a JSON object")
    return data


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace("?", "_")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
