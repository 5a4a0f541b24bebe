"""The fake's HTTP server: start/stop, routing and the bot side's request handling.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .common import MAX_UPLOAD_SIZE, ApiError, _bad, _dumps, _Upload, log

if TYPE_CHECKING:
    from .server import FakeBotAPI


class HttpServerMixin:
    """aiohttp app and lifecycle; ``/bot{token}/{method}`` and ``/file/bot{token}/...``."""

    # -- lifecycle

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

    # -- HTTP

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
