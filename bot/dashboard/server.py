"""Serving the dashboard with aiohttp: the page at /app/, its assets under content-hashed
names, the JSON API under /app/api/ (bot/dashboard/api.py), and the security headers of
every /app response.

In webhook mode the routes go on the webhook's application (`add_dashboard_routes`); with
long polling `start_server` runs an application of its own on WEBAPP_HOST:WEBAPP_PORT.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.dashboard.api import DASHBOARD_KEY, Dashboard, add_api_routes

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/app"
ASSETS = PREFIX + "/assets/"
_PLACEHOLDER = re.compile(r"\{\{asset:([A-Za-z0-9_./-]+)\}\}")

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self' https://web.telegram.org https://*.telegram.org",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
INDEX_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    charset: str | None


@dataclass
class Assets:
    """The page and its files, read once: ``names`` maps each file (relative to the
    static folder) to its hashed URL, ``files`` each hashed name to its content."""

    index: bytes | None = None
    names: dict[str, str] = field(default_factory=dict)
    files: dict[str, Asset] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = STATIC_DIR) -> Assets:
        assets = cls()
        if not folder.is_dir():
            log.error("dashboard: no static folder at %s", folder)
            return assets
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if relative == "index.html" or relative.startswith(".") or "/." in relative:
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            stem, dot, ext = relative.rpartition(".")
            hashed = f"{stem}.{digest}.{ext}" if dot else f"{relative}.{digest}"
            suffix = "." + ext.lower() if dot else ""
            kind = (
                TYPES.get(suffix)
                or mimetypes.guess_type(relative)[0]
                or "application/octet-stream"
            )
            text = kind.startswith("text/") or kind in ("application/json", "image/svg+xml")
            assets.names[relative] = ASSETS + hashed
            assets.files[hashed] = Asset(body, kind, "utf-8" if text else None)
        index = folder / "index.html"
        if index.is_file():
            assets.index = assets.render(index.read_text(encoding="utf-8")).encode("utf-8")
        else:
            log.error("dashboard: %s is missing; /app/ answers 404", index)
        return assets

    def render(self, html: str) -> str:
        """``{{asset:NAME}}`` replaced by NAME's hashed URL; an unknown NAME is logged
        and left as an empty URL (a broken link, never a secret or a crash)."""

        def url(match: re.Match[str]) -> str:
            name = match.group(1)
            found = self.names.get(name)
            if found is None:
                log.error("dashboard: index.html names an unknown asset %r", name)
                return ""
            return found

        return _PLACEHOLDER.sub(url, html)


@web.middleware
async def _security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            exc.headers.update(HEADERS)
        raise
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        response.headers.update(HEADERS)
    return response


def _assets(request: web.Request) -> Assets:
    assets = request.app[DASHBOARD_KEY].assets
    assert assets is not None  # loaded by add_dashboard_routes
    return assets


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PREFIX + "/")


async def _index(request: web.Request) -> web.StreamResponse:
    index = _assets(request).index
    if index is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=index,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": INDEX_CACHE},
    )


async def _asset(request: web.Request) -> web.StreamResponse:
    asset = _assets(request).files.get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound(headers={"Cache-Control": "no-store"})
    return web.Response(
        body=asset.body,
        content_type=asset.content_type,
        charset=asset.charset,
        headers={"Cache-Control": ASSET_CACHE},
    )


def add_dashboard_routes(app: web.Application, dashboard: Dashboard) -> None:
    """The page, its assets and its API on ``app`` (the webhook's, or one of its own)."""
    if dashboard.assets is None:
        dashboard.assets = Assets.load(dashboard.static_dir)
    app[DASHBOARD_KEY] = dashboard
    app.middlewares.append(_security_headers)
    app.router.add_get(PREFIX, _redirect)
    app.router.add_get(PREFIX + "/", _index)
    app.router.add_get(ASSETS + "{name:.+}", _asset)
    add_api_routes(app, PREFIX + "/api")


def create_app(dashboard: Dashboard) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    add_dashboard_routes(app, dashboard)
    return app


async def start_server(dashboard: Dashboard, host: str, port: int) -> web.AppRunner:
    """Polling mode: the dashboard on its own listener. Stop it with ``runner.cleanup()``."""
    runner = web.AppRunner(create_app(dashboard), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("dashboard listening on %s:%s", host, port)
    return runner
