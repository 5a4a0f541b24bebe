"""The test side over HTTP: ``{base}/_test/<action>`` calls the methods of the user side
and of control (for a fake running in another process, ``python -m bot.sandbox.telegram``).

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from aiohttp import web

from .common import _dumps, _to_bool, _to_int


class RemoteMixin:
    """``/_test/...`` handlers: ``_test_<action>`` for each action."""

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
