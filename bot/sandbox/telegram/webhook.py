"""Webhook mode: set/delete/getWebhookInfo and posting updates to the bot's webhook.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import aiohttp

from .common import _bad, _dumps, _to_bool, _to_int, _Upload


class WebhookMixin:
    """setWebhook and friends, and the task that POSTs queued updates to the webhook."""

    # -- webhook methods

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
