"""Bot API methods about the bot and its chats: getMe, commands, descriptions, menu buttons.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

from typing import Any

from .common import CHAT_ACTIONS, ApiError, _bad, _json_param


class MenusMixin:
    """getMe/logOut/close, set/get/deleteMyCommands, bot descriptions and name, chat menu
    buttons, sendChatAction and getChat."""

    # -- bot

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
